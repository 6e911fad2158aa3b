"""Recording outbound messages in the caller's transaction: nothing sent unrecorded, nothing recorded lost."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from dispatch import held
from store.db import dialect_name
from store.models import Outbox

OUTBOX = Outbox.__table__
# Built once per dialect; run with one parameter set per row.
ENQUEUE = held.ENQUEUE

# Kinds of outbox rows; their payloads name templates and tickets, rendered at delivery time so
# every copy shows the ticket as it is then.
TEXT = "text"            # {"template", "ticket"?, "vars"?, "options"?} or {"text", "options"?} (a conversation reply)
CARD = "card"            # {"ticket", "audience": technician | group}
CARD_UPDATE = "card_update"  # {"copy_id", "reply_token"?}

# A session's rows wait here until it commits (dispatch/held.py writes them with the press's events).
PENDING = held.OUTBOX_KEY


async def enqueue(db: AsyncSession | AsyncConnection, *, key: str, channel: str, kind: str, payload: dict[str, Any],
                  now: datetime, user: str = "", chat: str = "", ticket_id: int | None = None) -> None:
    """Insert once per `key`: a retried domain action never doubles a message."""
    await enqueue_many(db, [dict(key=key, channel=channel, user=user, chat=chat, payload=payload)],
                       kind=kind, now=now, ticket_id=ticket_id)


async def enqueue_many(db: AsyncSession | AsyncConnection, rows: list[dict[str, Any]], *, kind: str, now: datetime,
                       ticket_id: int | None = None) -> None:
    """Several rows (`key`, `channel`, `payload`, `user`/`chat`) in one round trip, each once per key."""
    if not rows:
        return
    values = values_of(rows, kind=kind, now=now, ticket_id=ticket_id)
    if isinstance(db, AsyncSession):
        # A press tells the reporter, the supervisors and every card copy: on a session the rows wait
        # for its commit and go in one statement then (bench/lifecycle.py), still in the same transaction.
        held.hold(db, PENDING, values)
        return
    await db.execute(ENQUEUE[dialect_name(db)], values)


async def enqueue_kinds(db: AsyncSession | AsyncConnection, messages: list[tuple[str, dict[str, Any]]], *,
                        now: datetime, ticket_id: int | None = None) -> None:
    """(kind, row) pairs, as `enqueue_many` writes them: one statement per kind."""
    for kind in dict.fromkeys(k for k, _ in messages):
        await enqueue_many(db, [row for k, row in messages if k == kind], kind=kind, now=now, ticket_id=ticket_id)


def values_of(rows: list[dict[str, Any]], *, kind: str, now: datetime, ticket_id: int | None = None,
              status: str = "pending", next_attempt_at: datetime | None = None, claimed_by: str = ""
              ) -> list[dict[str, Any]]:
    """Outbox column values for `enqueue_many`'s rows (a writer that claims its rows at once passes
    status "sending", its lease as `next_attempt_at` and its owner token as `claimed_by`)."""
    return [dict(
        dedupe_key=r["key"][:128], ticket_id=ticket_id, channel=r["channel"], kind=kind, payload=r["payload"],
        recipient=recipient_of(r.get("user", ""), r.get("chat", "")), status=status, attempts=0,
        next_attempt_at=next_attempt_at or now, created_at=now, last_error="", platform_message_id="",
        claimed_by=claimed_by,
    ) for r in rows]


def insert_once(dialect: str):
    """INSERT … ON CONFLICT (dedupe_key) DO NOTHING, run with one parameter set per row: a row already
    recorded under its key is kept as is."""
    return ENQUEUE[dialect]


def recipient_of(user: str, chat: str) -> str:
    return ";".join(f"{k}:{v}" for k, v in (("user", user), ("chat", chat)) if v)


def split_recipient(recipient: str) -> tuple[str, str]:
    """(user, chat) of an outbox row's recipient ("user:U", "chat:C" or "user:U;chat:C")."""
    parts = dict(p.partition(":")[::2] for p in recipient.split(";") if p)
    return parts.get("user", ""), parts.get("chat", "")
