"""Secrets the service makes for itself on first start and keeps in the database (kv table)."""
from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.models import KeyValue


async def kept_secret(sessions: async_sessionmaker[AsyncSession], key: str) -> str:
    """The value under `key`, generated once; several processes starting together agree on one."""
    async with sessions() as session, session.begin():
        insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        await session.execute(insert(KeyValue).values(key=key, value=secrets.token_urlsafe(32))
                              .on_conflict_do_nothing(index_elements=[KeyValue.key]))
        return (await session.execute(select(KeyValue.value).where(KeyValue.key == key))).scalar_one()
