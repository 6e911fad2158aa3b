"""exactly-once filing and actions: tickets.filing_key, action_receipts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('filing_key', sa.String(length=255), nullable=True))
        batch_op.create_index('uq_tickets_filing_key', ['filing_key'], unique=True)

    op.create_table('action_receipts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('ticket', sa.String(length=20), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('holder', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('action_receipts')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('uq_tickets_filing_key')
        batch_op.drop_column('filing_key')
