"""Receipts of card presses and REST actions already run, so a retried one answers as the first did."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.db import dialect_name
from store.models import ActionReceipt

RECEIPTS = ActionReceipt.__table__
# Built once per dialect. On PostgreSQL a second run of the same key waits here for the first one's
# transaction: it then finds the committed receipt, or claims the key itself when the first rolled back.
CLAIM = {name: insert(RECEIPTS).on_conflict_do_nothing(index_elements=[RECEIPTS.c.key]).returning(RECEIPTS.c.id)
         for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))}
FIRST = select(RECEIPTS.c.action, RECEIPTS.c.ticket, RECEIPTS.c.outcome, RECEIPTS.c.holder).where(
    RECEIPTS.c.key == bindparam("key"))
SETTLE = update(RECEIPTS).where(RECEIPTS.c.key == bindparam("k")).values(
    outcome=bindparam("o"), holder=bindparam("h"))


@dataclass(frozen=True)
class Receipt:
    action: str
    ticket: str
    outcome: str
    holder: str


class KeyReused(ValueError):
    """The key was used before for another action or ticket (a client's mistake, never a platform's)."""


def receipt_key(*parts: str) -> str:
    """("wecom", the click's id), ("feishu", the event id), ("api", an Idempotency-Key) …; hashed when long."""
    key = "|".join(parts)
    return key if len(key) <= 255 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


async def claim(session: AsyncSession, key: str, action: str, ticket: str, now: datetime) -> Receipt | None:
    """Claim `key` in the caller's transaction, before the action runs: None when it is new (run the
    action, then `settle`), else the first run's receipt. The claim commits or rolls back with the
    action, so a press whose first attempt failed runs again when it is retried."""
    ticket = ticket[:20]
    new = await session.execute(CLAIM[dialect_name(session)],
                                dict(key=key, action=action, ticket=ticket, outcome="", holder="", created_at=now))
    if new.first() is not None:
        return None
    first = Receipt(*(await session.execute(FIRST, {"key": key})).one())
    if (first.action, first.ticket) != (action, ticket):
        raise KeyReused(key)
    return first


async def settle(session: AsyncSession, key: str, outcome: str, holder: str) -> None:
    """What the action decided, for the retries to answer with."""
    await session.execute(SETTLE, {"k": key, "o": outcome, "h": holder[:64]})
