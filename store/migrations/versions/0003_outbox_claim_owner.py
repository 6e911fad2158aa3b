"""outbox claim owner and failing-since

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        # Who holds the lease: the conditional UPDATE on (id, claimed_by) decides who may send and mark.
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=False, server_default=''))
        # When the current run of failures began: transient failures are retried for [outbox] retry_for.
        batch_op.add_column(sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_outbox_recipient', ['channel', 'recipient', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_recipient')
        batch_op.drop_column('failing_since')
        batch_op.drop_column('claimed_by')
