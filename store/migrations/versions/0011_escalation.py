"""one timer mechanism: timers get a unique key, a status, a lease, an optional ticket, a partial index of pending ones

Revision ID: 0011
Revises: 0009 (0010, the lead's indexes, comes between once it is on main)
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.drop_index('ix_timers_due', table_name='timers')
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key', sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column('status', sa.String(length=12), nullable=False, server_default='pending'))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('lease_until', _TS, nullable=True))
        batch_op.alter_column('ticket_id', existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                              nullable=True)
        batch_op.drop_constraint('uq_timers_once', type_='unique')
    # Existing rows (auto sign-off, survey reminder and lapse) keep their meaning: one per (kind, ticket, due
    # time) as the old unique constraint had it, done when they had run.
    op.execute("UPDATE timers SET status = CASE WHEN done_at IS NULL THEN 'pending' ELSE 'done' END, "
               "key = kind || ':' || ticket_id || ':' || id")
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.alter_column('key', existing_type=sa.String(length=160), nullable=False)
        batch_op.create_unique_constraint('uq_timers_key', ['key'])
    op.create_index('ix_timers_pending', 'timers', ['due_at'], unique=False,
                    postgresql_where=PENDING, sqlite_where=PENDING)


def downgrade() -> None:
    op.drop_index('ix_timers_pending', table_name='timers')
    op.execute("DELETE FROM timers WHERE ticket_id IS NULL")
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.drop_constraint('uq_timers_key', type_='unique')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('status')
        batch_op.drop_column('key')
        batch_op.alter_column('ticket_id', existing_type=sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                              nullable=False)
        batch_op.create_unique_constraint('uq_timers_once', ['ticket_id', 'kind', 'due_at'])
    op.create_index('ix_timers_due', 'timers', ['done_at', 'due_at'], unique=False)
