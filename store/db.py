"""The database (SQLAlchemy's AsyncEngine: the connection pool) and session factory, and schema migration."""
from __future__ import annotations

import asyncio
from importlib.resources import files

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine, AsyncSession


def make_database(url: str, pool_size: int = 10) -> AsyncEngine:
    """The database the service works on: SQLAlchemy's AsyncEngine, the pool of connections."""
    if url.startswith("sqlite"):
        database = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(database.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            # WAL lets readers run beside the one writer; foreign keys are off by default in SQLite.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return database
    # Requests beyond the pool wait for a connection instead of piling onto the database. No pre-ping:
    # it costs round trips on every checkout; a connection lost to a database restart fails one unit
    # of work, which the inbox and outbox retry, and is then replaced.
    return create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=30, pool_recycle=1800)


def make_sessionmaker(database: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(database, expire_on_commit=False)


async def connection_of(db: AsyncSession | AsyncConnection) -> AsyncConnection:
    """The connection under a session, in its transaction: Core statements on it skip the ORM's work."""
    return db if isinstance(db, AsyncConnection) else await db.connection()


def dialect_name(db: AsyncSession | AsyncConnection) -> str:
    return (db.dialect if isinstance(db, AsyncConnection) else db.bind.dialect).name


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("store") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate_sync(url: str, revision: str = "head") -> None:
    """Bring the schema up to date; runs Alembic's async env in its own event loop."""
    command.upgrade(alembic_config(url), revision)


async def migrate(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(migrate_sync, url, revision)


async def schema_revision(database: AsyncEngine) -> tuple[str | None, str]:
    """(the database's Alembic revision or None, the code's head revision)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(str(database.url))).get_current_head()

    def current(conn) -> str | None:  # noqa: ANN001
        return MigrationContext.configure(conn).get_current_revision()

    async with database.connect() as conn:
        return await conn.run_sync(current), head
