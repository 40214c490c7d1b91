"""Research projects, pseudonyms and extract deliveries (issue: research extracts).

Revision ID: 0006_research
Revises: 0005_waves
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engagement.db

revision: str = "0006_research"
down_revision: str | Sequence[str] | None = "0005_waves"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('research_project',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('approval_reference', sa.String(length=64), nullable=False),
    sa.Column('purposes', sa.JSON(), nullable=False),
    sa.Column('questionnaires', sa.JSON(), nullable=False),
    sa.Column('data_use_codes', sa.JSON(), nullable=False),
    sa.Column('folder', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_research_project')),
    sa.UniqueConstraint('code', name=op.f('uq_research_project_code')),
    sa.UniqueConstraint('folder', name=op.f('uq_research_project_folder'))
    )
    op.create_table('research_extract',
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('release', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('previous_extract_id', sa.Uuid(), nullable=True),
    sa.Column('consent_snapshot_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_kind', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('participants', sa.Integer(), nullable=False),
    sa.Column('deletions', sa.Integer(), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('manifest', sa.JSON(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("kind IN ('full', 'since-last')", name=op.f('ck_research_extract_kind')),
    sa.ForeignKeyConstraint(['previous_extract_id'], ['research_extract.id'], name=op.f('fk_research_extract_previous_extract_id_research_extract')),
    sa.ForeignKeyConstraint(['project_id'], ['research_project.id'], name=op.f('fk_research_extract_project_id_research_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_research_extract')),
    sa.UniqueConstraint('project_id', 'release', name=op.f('uq_research_extract_project_id_release'))
    )
    with op.batch_alter_table('research_extract', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_research_extract_project_id'), ['project_id'], unique=False)

    op.create_table('research_project_member',
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('staff_user_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['research_project.id'], name=op.f('fk_research_project_member_project_id_research_project'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_user_id'], ['staff_user.id'], name=op.f('fk_research_project_member_staff_user_id_staff_user')),
    sa.PrimaryKeyConstraint('project_id', 'staff_user_id', name=op.f('pk_research_project_member'))
    )
    op.create_table('research_pseudonym',
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('participant_id', sa.Uuid(), nullable=False),
    sa.Column('pseudonym', sa.BigInteger(), nullable=False),
    sa.Column('created_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], name=op.f('fk_research_pseudonym_participant_id_participant')),
    sa.ForeignKeyConstraint(['project_id'], ['research_project.id'], name=op.f('fk_research_pseudonym_project_id_research_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_research_pseudonym')),
    sa.UniqueConstraint('project_id', 'participant_id', name=op.f('uq_research_pseudonym_project_id_participant_id')),
    sa.UniqueConstraint('project_id', 'pseudonym', name=op.f('uq_research_pseudonym_project_id_pseudonym'))
    )
    with op.batch_alter_table('research_pseudonym', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_research_pseudonym_participant_id'), ['participant_id'], unique=False)

    op.create_table('research_extract_response',
    sa.Column('extract_id', sa.Uuid(), nullable=False),
    sa.Column('response_id', sa.Uuid(), nullable=False),
    sa.Column('pseudonym_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['extract_id'], ['research_extract.id'], name=op.f('fk_research_extract_response_extract_id_research_extract')),
    sa.ForeignKeyConstraint(['pseudonym_id'], ['research_pseudonym.id'], name=op.f('fk_research_extract_response_pseudonym_id_research_pseudonym')),
    sa.PrimaryKeyConstraint('extract_id', 'response_id', name=op.f('pk_research_extract_response'))
    )
    with op.batch_alter_table('research_extract_response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_research_extract_response_pseudonym_id'), ['pseudonym_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_research_extract_response_response_id'), ['response_id'], unique=False)

    op.create_table('research_pending_deletion',
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('pseudonym_id', sa.Uuid(), nullable=False),
    sa.Column('withdrawal_id', sa.Uuid(), nullable=False),
    sa.Column('recorded_at', engagement.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('listed_in_extract_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['listed_in_extract_id'], ['research_extract.id'], name=op.f('fk_research_pending_deletion_listed_in_extract_id_research_extract')),
    sa.ForeignKeyConstraint(['project_id'], ['research_project.id'], name=op.f('fk_research_pending_deletion_project_id_research_project')),
    sa.ForeignKeyConstraint(['pseudonym_id'], ['research_pseudonym.id'], name=op.f('fk_research_pending_deletion_pseudonym_id_research_pseudonym')),
    sa.ForeignKeyConstraint(['withdrawal_id'], ['consent_withdrawal.id'], name=op.f('fk_research_pending_deletion_withdrawal_id_consent_withdrawal')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_research_pending_deletion')),
    sa.UniqueConstraint('pseudonym_id', 'withdrawal_id', name=op.f('uq_research_pending_deletion_pseudonym_id_withdrawal_id'))
    )
    with op.batch_alter_table('research_pending_deletion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_research_pending_deletion_listed_in_extract_id'), ['listed_in_extract_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_research_pending_deletion_project_id'), ['project_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('research_pending_deletion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_research_pending_deletion_project_id'))
        batch_op.drop_index(batch_op.f('ix_research_pending_deletion_listed_in_extract_id'))

    op.drop_table('research_pending_deletion')
    with op.batch_alter_table('research_extract_response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_research_extract_response_response_id'))
        batch_op.drop_index(batch_op.f('ix_research_extract_response_pseudonym_id'))

    op.drop_table('research_extract_response')
    with op.batch_alter_table('research_pseudonym', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_research_pseudonym_participant_id'))

    op.drop_table('research_pseudonym')
    op.drop_table('research_project_member')
    with op.batch_alter_table('research_extract', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_research_extract_project_id'))

    op.drop_table('research_extract')
    op.drop_table('research_project')
