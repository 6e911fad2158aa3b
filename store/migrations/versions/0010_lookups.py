"""lookups of the lifecycle's hot paths: staff by role, the tickets a resident watches

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Staff are a handful among 200,000 residents: "who are the housekeepers" must not read them all.
    op.create_index('ix_persons_role', 'persons', ['role'], unique=False)
    # 「我的报修」 and a resident's answer also look at the tickets they joined as a watcher (BR-4).
    op.create_index('ix_ticket_watchers_user', 'ticket_watchers', ['channel', 'user_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_ticket_watchers_user', table_name='ticket_watchers')
    op.drop_index('ix_persons_role', table_name='persons')
