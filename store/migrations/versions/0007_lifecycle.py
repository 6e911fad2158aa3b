"""after 接单: job fields on tickets, after-photos, timers, follow-ups, complaints

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('awaiting', sa.String(length=12), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('quote_items', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('quote_status', sa.String(length=12), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('quote_note', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('waiver', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('materials', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('work_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('completion_note', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('hold_reason', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('hold_until', _TS, nullable=True))
        batch_op.add_column(sa.Column('held_from', sa.String(length=16), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('proposed_visit_text', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('proposed_visit_at', _TS, nullable=True))
        batch_op.add_column(sa.Column('signoff', sa.String(length=12), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('signoff_due_at', _TS, nullable=True))
        batch_op.add_column(sa.Column('verified_at', _TS, nullable=True))
        batch_op.add_column(sa.Column('survey', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('warranty_of', sa.String(length=20), nullable=True))
        batch_op.create_index('ix_tickets_awaiting', ['reporter_channel', 'reporter_user', 'awaiting'], unique=False)
        batch_op.create_index('ix_tickets_assignee_status', ['assignee_id', 'status'], unique=False)
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=8), nullable=False, server_default='report'))
    op.create_table('timers',
    sa.Column('id', _ID, nullable=False),
    sa.Column('ticket_id', _ID, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('due_at', _TS, nullable=False),
    sa.Column('done_at', _TS, nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ticket_id', 'kind', 'due_at', name='uq_timers_once')
    )
    op.create_index('ix_timers_due', 'timers', ['done_at', 'due_at'], unique=False)
    op.create_index('ix_timers_ticket_id', 'timers', ['ticket_id'], unique=False)
    op.create_table('followups',
    sa.Column('id', _ID, nullable=False),
    sa.Column('ticket_id', _ID, nullable=False),
    sa.Column('reason', sa.String(length=12), nullable=False),
    sa.Column('selected_at', _TS, nullable=False),
    sa.Column('called_at', _TS, nullable=True),
    sa.Column('called_by', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ticket_id')
    )
    op.create_table('complaints',
    sa.Column('id', _ID, nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('ticket_id', _ID, nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('replied_at', _TS, nullable=True),
    sa.Column('replied_by', sa.String(length=64), nullable=False),
    sa.Column('reply', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    op.create_index('ix_complaints_status', 'complaints', ['status', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_complaints_status', table_name='complaints')
    op.drop_table('complaints')
    op.drop_table('followups')
    op.drop_index('ix_timers_ticket_id', table_name='timers')
    op.drop_index('ix_timers_due', table_name='timers')
    op.drop_table('timers')
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.drop_column('kind')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_assignee_status')
        batch_op.drop_index('ix_tickets_awaiting')
        for name in ('warranty_of', 'survey', 'verified_at', 'signoff_due_at', 'signoff', 'proposed_visit_at',
                     'proposed_visit_text', 'held_from', 'hold_until', 'hold_reason', 'completion_note',
                     'work_minutes', 'materials', 'waiver', 'quote_note', 'quote_status', 'quote_items', 'awaiting'):
            batch_op.drop_column(name)
