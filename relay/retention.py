"""Retention: dead letters (decrypted messages, phone numbers) expire, and no table or list grows without bound."""
from __future__ import annotations

import logging
from datetime import timedelta

from typing import Protocol

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.inbox import Inbox
from store.clock import Clock
from store.models import ActionReceipt, Outbox

log = logging.getLogger(__name__)


class Retention(Protocol):
    """Seconds each kind is kept (the `[retention]` settings)."""

    dead_letters: int
    dead_max: int
    sent: int
    processed: int
    receipts: int


async def prune_once(inbox: Inbox, sessions: async_sessionmaker[AsyncSession], clock: Clock,
                     r: Retention) -> dict[str, int]:
    """One pruning round on the injected clock; returns how many items went, by kind."""
    now = clock.now()
    dead_before = now - timedelta(seconds=r.dead_letters)
    pruned_inbox = await inbox.prune(dead_before=dead_before, dead_max=r.dead_max,
                                        done_before=now - timedelta(seconds=r.processed))
    async with sessions() as session, session.begin():
        # Dead and undeliverable rows hold the message text and who it was for: they go after the
        # retention (the ticket's audit trail keeps that a message was undeliverable).
        dead = (await session.execute(delete(Outbox).where(
            Outbox.status.in_(("dead", "undeliverable")), Outbox.created_at < dead_before))).rowcount or 0
        sent = (await session.execute(delete(Outbox).where(
            Outbox.status == "sent", Outbox.created_at < now - timedelta(seconds=r.sent)))).rowcount or 0
        # Platforms retry a press within minutes and clients an Idempotency-Key within hours; a receipt
        # older than the retention only answers nobody.
        receipts = (await session.execute(delete(ActionReceipt).where(
            ActionReceipt.created_at < now - timedelta(seconds=r.receipts)))).rowcount or 0
    out = {"inbox": pruned_inbox, "outbox_dead": dead, "outbox_sent": sent, "receipts": receipts}
    if any(out.values()):
        log.info("retention pruned %s", out)
    return out
