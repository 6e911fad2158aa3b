"""Secrets the service makes for itself on first start and keeps in the database (kv table)."""
from __future__ import annotations

import hashlib
import logging
import secrets

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.models import KeyValue

log = logging.getLogger("repairbot")
# Only the digest of a generated API token is kept: a copy of the database does not give API access.
API_TOKEN_KEY = "api_token_sha256"


async def kept_secret(sessions: async_sessionmaker[AsyncSession], key: str) -> str:
    """The value under `key`, generated once; several processes starting together agree on one."""
    _, value = await _keep_once(sessions, key, secrets.token_urlsafe(32))
    return value


async def _keep_once(sessions: async_sessionmaker[AsyncSession], key: str, value: str) -> tuple[bool, str]:
    """Store `value` under `key` unless one is there; (whether ours was stored, the stored value)."""
    async with sessions() as session, session.begin():
        insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        result = await session.execute(insert(KeyValue).values(key=key, value=value)
                                       .on_conflict_do_nothing(index_elements=[KeyValue.key]))
        stored = (await session.execute(select(KeyValue.value).where(KeyValue.key == key))).scalar_one()
        return result.rowcount == 1, stored


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def api_token_hashes(sessions: async_sessionmaker[AsyncSession], settings) -> frozenset[bytes]:
    """Digests of the bearer tokens that open /api/v1: the configured ones, else one generated at first start,
    printed that once (the only time it exists in clear) and kept as a digest."""
    configured = [t.get_secret_value() for t in settings.service.api_tokens]
    if configured:
        return frozenset(token_digest(t) for t in configured)
    token = secrets.token_urlsafe(32)
    created, stored = await _keep_once(sessions, API_TOKEN_KEY, token_digest(token).hex())
    if created:
        log.warning("no [service] api_tokens configured; this installation's generated API token is %s "
                    "(shown this once, kept only as a hash: note it now)", token)
    return frozenset({bytes.fromhex(stored)})
