"""Waves, devices and the reminder outbox (issue: waves and reminders).

Revision ID: 0005_waves
Revises: 0004_questionnaires
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engagement.db

revision: str = "0005_waves"
down_revision: str | Sequence[str] | None = "0004_questionnaires"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('device',
    sa.Column('participant_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('registration', sa.String(length=4096), nullable=False),
    sa.Column('registration_hash', sa.String(length=64), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('app_version', sa.String(length=32), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('deactivated_at', engagement.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deactivated_reason', sa.String(length=32), nullable=True),
    sa.Column('last_seen_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engagement.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('fcm_token', 'fid')", name=op.f('ck_device_kind')),
    sa.CheckConstraint("platform IN ('android', 'ios', 'web')", name=op.f('ck_device_platform')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_device_participant_id_participant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device')),
    sa.UniqueConstraint('registration_hash', name=op.f('uq_device_registration_hash'))
    )
    op.create_index(op.f('ix_device_participant_id'), 'device', ['participant_id'], unique=False)
    op.create_table('wave',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('questionnaire_version_id', sa.Uuid(), nullable=False),
    sa.Column('eligibility', sa.JSON(), nullable=False),
    sa.Column('required_purposes', sa.JSON(), nullable=False),
    sa.Column('opens_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closes_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('is_rolling', sa.Boolean(), nullable=False),
    sa.Column('reminder_policy', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('launched_at', engagement.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('launched_count', sa.Integer(), nullable=True),
    sa.Column('closed_at', engagement.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'launched', 'closed')", name=op.f('ck_wave_status')),
    sa.CheckConstraint('closes_at > opens_at', name=op.f('ck_wave_dates')),
    sa.ForeignKeyConstraint(['questionnaire_version_id'], ['questionnaire_version.id'], name=op.f('fk_wave_questionnaire_version_id_questionnaire_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wave'))
    )
    op.create_index(op.f('ix_wave_questionnaire_version_id'), 'wave', ['questionnaire_version_id'], unique=False)
    op.create_table('reminder',
    sa.Column('task_id', sa.Uuid(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('wave_id', sa.Uuid(), nullable=False),
    sa.Column('participant_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('planned_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('locked_by', sa.String(length=64), nullable=True),
    sa.Column('locked_until', engagement.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sending_at', engagement.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', engagement.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('opened_at', engagement.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('template', sa.String(length=32), nullable=True),
    sa.Column('template_version', sa.Integer(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'skipped', 'cancelled', 'failed')", name=op.f('ck_reminder_status')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_reminder_participant_id_participant')),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_reminder_task_id_task')),
    sa.ForeignKeyConstraint(['wave_id'], ['wave.id'], name=op.f('fk_reminder_wave_id_wave')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder')),
    sa.UniqueConstraint('task_id', 'sequence', name=op.f('uq_reminder_task_id_sequence'))
    )
    op.create_index('ix_reminder_participant_id_sent_at', 'reminder', ['participant_id', 'sent_at'], unique=False)
    op.create_index('ix_reminder_status_due_at', 'reminder', ['status', 'due_at'], unique=False)
    op.create_index(op.f('ix_reminder_wave_id'), 'reminder', ['wave_id'], unique=False)
    op.create_table('reminder_attempt',
    sa.Column('reminder_id', sa.Uuid(), nullable=False),
    sa.Column('device_id', sa.Uuid(), nullable=True),
    sa.Column('device_fingerprint', sa.String(length=24), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=64), nullable=False),
    sa.Column('attempted_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=24), nullable=False),
    sa.Column('detail', sa.String(length=300), nullable=True),
    sa.Column('message_id', sa.String(length=200), nullable=True),
    sa.Column('retry_seconds', sa.Double(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], name=op.f('fk_reminder_attempt_device_id_device'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reminder_id'], ['reminder.id'], name=op.f('fk_reminder_attempt_reminder_id_reminder')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_attempt'))
    )
    op.create_index(op.f('ix_reminder_attempt_reminder_id'), 'reminder_attempt', ['reminder_id'], unique=False)
    # a task's wave; SQLite adds the column with its reference in place (no copy of the table)
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE task ADD COLUMN wave_id CHAR(32) CONSTRAINT fk_task_wave_id_wave REFERENCES wave (id)")
    else:
        op.add_column("task", sa.Column("wave_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(op.f("fk_task_wave_id_wave"), "task", "wave", ["wave_id"], ["id"])
    op.create_index("ix_task_wave_id_participant_id", "task", ["wave_id", "participant_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_task_wave_id_participant_id", table_name="task")
    with op.batch_alter_table("task") as batch:
        if op.get_bind().dialect.name != "sqlite":
            batch.drop_constraint(op.f("fk_task_wave_id_wave"), type_="foreignkey")
        batch.drop_column("wave_id")
    op.drop_table("reminder_attempt")
    op.drop_table("reminder")
    op.drop_table("wave")
    op.drop_table("device")
