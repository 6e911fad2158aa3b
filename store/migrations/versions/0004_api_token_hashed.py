"""keep the generated API token only as its SHA-256 digest

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""
import hashlib

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

kv = sa.table('kv', sa.column('key', sa.String), sa.column('value', sa.Text))


def upgrade() -> None:
    # An installation that generated its token before this release keeps using it: the clear copy becomes a digest.
    conn = op.get_bind()
    token = conn.execute(sa.select(kv.c.value).where(kv.c.key == 'api_token')).scalar()
    if token is not None:
        conn.execute(kv.delete().where(kv.c.key.in_(['api_token', 'api_token_sha256'])))
        conn.execute(kv.insert().values(key='api_token_sha256', value=hashlib.sha256(token.encode()).hexdigest()))


def downgrade() -> None:
    # The clear token cannot be recovered: the older release generates (and prints) a new one.
    op.get_bind().execute(kv.delete().where(kv.c.key == 'api_token_sha256'))
