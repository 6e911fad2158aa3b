"""the estate's unit list: units, unit_names, tickets.building

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('units',
    sa.Column('id', _ID, nullable=False),
    sa.Column('property', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('building', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('property', 'key', name='uq_units_key')
    )
    op.create_table('unit_names',
    sa.Column('id', _ID, nullable=False),
    sa.Column('property', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('unit_id', _ID, nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('property', 'key', name='uq_unit_names_key')
    )
    op.create_index('ix_unit_names_unit_id', 'unit_names', ['unit_id'], unique=False)
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('building', sa.String(length=64), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('building')
    op.drop_index('ix_unit_names_unit_id', table_name='unit_names')
    op.drop_table('unit_names')
    op.drop_table('units')
