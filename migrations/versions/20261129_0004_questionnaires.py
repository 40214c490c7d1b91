"""Questionnaires: published versions, tasks, drafts, submissions (issue: questionnaires).

Revision ID: 0004_questionnaires
Revises: 0003_consent
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engagement.db

revision: str = "0004_questionnaires"
down_revision: str | Sequence[str] | None = "0003_consent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('questionnaire_version',
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('version_label', sa.String(length=32), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('consent_purpose', sa.String(length=64), nullable=False),
    sa.Column('published_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_version')),
    sa.UniqueConstraint('key', 'version', name=op.f('uq_questionnaire_version_key_version'))
    )
    op.create_table('task',
    sa.Column('participant_id', sa.Uuid(), nullable=False),
    sa.Column('questionnaire_version_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('opens_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', engagement.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', engagement.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', engagement.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', engagement.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_reason', sa.String(length=64), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('open', 'in_progress', 'submitted', 'expired', 'cancelled')", name=op.f('ck_task_status')),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_task_participant_id_participant')),
    sa.ForeignKeyConstraint(['questionnaire_version_id'], ['questionnaire_version.id'], name=op.f('fk_task_questionnaire_version_id_questionnaire_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task'))
    )
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.create_index('ix_task_participant_id_status', ['participant_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_questionnaire_version_id'), ['questionnaire_version_id'], unique=False)

    op.create_table('draft',
    sa.Column('task_id', sa.Uuid(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('etag', sa.String(length=32), nullable=False),
    sa.Column('created_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_draft_task_id_task'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', name=op.f('pk_draft'))
    )
    op.create_table('response',
    sa.Column('submission_id', sa.Uuid(), nullable=False),
    sa.Column('task_id', sa.Uuid(), nullable=False),
    sa.Column('participant_id', sa.Uuid(), nullable=False),
    sa.Column('questionnaire_version_id', sa.Uuid(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('body_hash', sa.String(length=64), nullable=False),
    sa.Column('submitted_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_response_participant_id_participant')),
    sa.ForeignKeyConstraint(['questionnaire_version_id'], ['questionnaire_version.id'], name=op.f('fk_response_questionnaire_version_id_questionnaire_version')),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_response_task_id_task')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_response')),
    sa.UniqueConstraint('submission_id', name=op.f('uq_response_submission_id')),
    sa.UniqueConstraint('task_id', name=op.f('uq_response_task_id'))
    )
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_response_participant_id'), ['participant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_response_questionnaire_version_id'), ['questionnaire_version_id'], unique=False)

    op.create_table('answer',
    sa.Column('response_id', sa.Uuid(), nullable=False),
    sa.Column('variable', sa.String(length=64), nullable=False),
    sa.Column('item', sa.String(length=64), nullable=False),
    sa.Column('value_number', sa.Float(), nullable=True),
    sa.Column('value_text', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['response_id'], ['response.id'], name=op.f('fk_answer_response_id_response'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('response_id', 'variable', name=op.f('pk_answer'))
    )


def downgrade() -> None:
    op.drop_table('answer')
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_response_questionnaire_version_id'))
        batch_op.drop_index(batch_op.f('ix_response_participant_id'))

    op.drop_table('response')
    op.drop_table('draft')
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_questionnaire_version_id'))
        batch_op.drop_index('ix_task_participant_id_status')

    op.drop_table('task')
    op.drop_table('questionnaire_version')
