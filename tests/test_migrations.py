"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from store.db import make_database
from store.models import Base


async def test_models_and_migrations_agree(backend):
    engine = make_database(backend.db_url)

    def diff(conn):
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, Base.metadata)

    async with engine.connect() as conn:
        changes = await conn.run_sync(diff)
    await engine.dispose()
    assert changes == []


async def test_an_unmigrated_database_refuses_to_start_with_a_clear_message(tmp_path, clock):
    import uuid

    import asyncpg
    import pytest
    from aiohttp import web

    from bot.app import SchemaOutOfDate, create_app
    from bot.settings import load_settings
    from tests.conftest import PG_ADMIN, _pg_url
    name = f"rb_empty_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        settings = load_settings(None, database={"url": _pg_url(name)}, media={"dir": str(tmp_path)})
        runner = web.AppRunner(create_app(settings, clock=clock, run_background=False))
        with pytest.raises(SchemaOutOfDate, match="repairbot migrate"):
            await runner.setup()
        await runner.cleanup()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
