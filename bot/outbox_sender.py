"""Delivers outbox rows through each platform's messenger, with back-off, jitter and dead letters.

Rows are claimed with a lease (PostgreSQL: FOR UPDATE SKIP LOCKED), so several workers never send the
same row at once, and a worker that dies mid-send leaves its rows to be taken again when the lease ends.
Two ways in: `deliver_due` polls for what is due (retries, cards, other processes' rows), and the
`Courier` sends at once what this process has just written already claimed (conversation replies).
"""
from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import bindparam, select, update

from bot import keys
from bot.group_commit import GroupCommit
from bot.outbound import Delivered, DeliveryError, Recipient, Undeliverable
from dispatch import outbox
from dispatch.ticket_card import ticket_card
from dispatch.tickets import get_ticket
from store.models import CardCopy, Outbox, Ticket, TicketEvent

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 8


def backoff(attempts: int) -> timedelta:
    """Exponential with full jitter (2 s, 4 s, … capped at 10 min): retries never stampede a platform."""
    cap = min(600.0, 2.0 * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=random.uniform(cap / 2, cap))


async def _claim(app: web.Application, now: datetime, limit: int) -> list[int]:
    async with app[keys.SESSIONS]() as session, session.begin():
        stmt = (select(Outbox).where(Outbox.status.in_(("pending", "sending")), Outbox.next_attempt_at <= now)
                .order_by(Outbox.id).limit(limit))
        if session.bind.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list((await session.execute(stmt)).scalars())
        for row in rows:
            row.status, row.next_attempt_at = "sending", now + LEASE
        return [r.id for r in rows]


async def deliver_due(app: web.Application, limit: int = 50) -> int:
    """Send what is due now; returns how many rows were attempted."""
    now = app[keys.CLOCK].now()
    ids = await _claim(app, now, limit)
    for row_id in ids:
        await _deliver_one(app, row_id)
    return len(ids)


async def _deliver_one(app: web.Application, row_id: int) -> None:
    clock = app[keys.CLOCK]
    async with app[keys.SESSIONS]() as session, session.begin():
        row = await session.get(Outbox, row_id)
        if row is None or row.status != "sending":
            return
        messenger = app[keys.MESSENGERS].get(row.channel)
        user, chat = outbox.split_recipient(row.recipient)
        to = Recipient(row.channel, user=user, chat=chat)
        try:
            if messenger is None:
                raise Undeliverable(f"no messenger for channel {row.channel}", code="no_channel")
            delivered = await _send(app, session, row, to, messenger)
        except Exception as e:
            await _failed(session, row, e, clock.now())
            return
        row.status, row.sent_at, row.attempts = "sent", clock.now(), row.attempts + 1
        row.platform_message_id = delivered.message_id[:128]


async def _failed(session, row: Outbox, e: Exception, now: datetime) -> None:
    if isinstance(e, Undeliverable):
        row.status, row.last_error, row.attempts = "undeliverable", f"{e.code} {e}"[:500], row.attempts + 1
        await _record_undeliverable(session, row, now, str(e.code or e))
        log.warning("outbox %s undeliverable on %s: %s", row.id, row.channel, e)
    elif isinstance(e, DeliveryError):
        _retry_or_bury(row, now, f"{e.code} {e}", e.retryable)
    else:  # a bug or a network error: retry with back-off, never lose the row
        log.error("outbox %s failed", row.id, exc_info=e)
        _retry_or_bury(row, now, repr(e), True)


def _retry_or_bury(row: Outbox, now: datetime, error: str, retryable: bool) -> None:
    row.attempts += 1
    row.last_error = error[:500]
    if retryable and row.attempts < MAX_ATTEMPTS:
        row.status, row.next_attempt_at = "pending", now + backoff(row.attempts)
    else:
        row.status = "dead"  # a dead letter: listed for staff, never silently dropped


async def _record_undeliverable(session, row: Outbox, now: datetime, reason: str) -> None:
    """Shown to staff on the ticket with the resident's phone, so somebody calls instead."""
    if row.ticket_id is None:
        return
    ticket = await session.get(Ticket, row.ticket_id)
    if ticket is None:
        return
    session.add(TicketEvent(ticket_id=ticket.id, at=now, actor="system", channel=row.channel,
                            action="undeliverable", from_status=ticket.status, to_status=ticket.status,
                            details={"outbox_id": row.id, "recipient": row.recipient, "reason": reason,
                                     "call": ticket.phone}))


async def _send(app, session, row: Outbox, to: Recipient, messenger) -> Delivered:
    texts = app[keys.ENGINE].deps.texts
    payload = row.payload
    if row.kind == outbox.TEXT and "text" in payload:
        return await messenger.send_text(to, payload["text"], tuple(payload.get("options", ())),
                                         idempotency_key=f"outbox:{row.id}")
    if row.kind == outbox.TEXT:
        ticket = await get_ticket(session, payload["ticket"]) if payload.get("ticket") else None
        text = texts.render(payload["template"], t=ticket, **payload.get("vars", {}))
        return await messenger.send_text(to, text, idempotency_key=f"outbox:{row.id}")
    if row.kind == outbox.CARD:
        ticket = await get_ticket(session, payload["ticket"])
        card = ticket_card(ticket, payload["audience"], texts)
        delivered = await messenger.send_card(to, card, idempotency_key=f"outbox:{row.id}")
        session.add(CardCopy(ticket_id=ticket.id, channel=row.channel, recipient_user=to.user,
                             recipient_chat=to.chat, audience=payload["audience"], message_id=delivered.message_id,
                             handle=delivered.handle, created_at=app[keys.CLOCK].now()))
        return delivered
    if row.kind == outbox.CARD_UPDATE:
        copy = await session.get(CardCopy, payload["copy_id"])
        ticket = await session.get(Ticket, copy.ticket_id)
        await session.refresh(ticket, ["assignee", "photos"])
        card = ticket_card(ticket, copy.audience, texts)
        delivered = await messenger.update_card(to, Delivered(copy.message_id, copy.handle), card,
                                                reply_token=payload.get("reply_token", ""))
        copy.updated_at = app[keys.CLOCK].now()
        if delivered.handle:
            copy.handle = delivered.handle
        return delivered
    raise DeliveryError(f"unknown outbox kind {row.kind}", retryable=False)


@dataclass(frozen=True)
class Claimed:
    """A text row this process wrote already claimed (see bot.outbox_writer)."""

    id: int
    channel: str
    recipient: str
    payload: dict[str, Any]


class Courier:
    """Sends claimed rows at once, without reading them back: one lane per recipient keeps a person's
    messages in order, different people's go concurrently; successes are marked in one UPDATE per round."""

    def __init__(self, app: web.Application, concurrency: int = 32, most: int = 10_000) -> None:
        self.app = app
        self.most = most  # rows in hand at most: a slow platform must not pile replies up in memory
        self._in_hand = 0
        self._full = False
        self._lanes: dict[tuple[str, str], deque[Claimed]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._gate = asyncio.Semaphore(concurrency)
        self._marks: GroupCommit[tuple[int, str], None] = GroupCommit(self._mark_sent)
        # Each row's UPDATE stands alone (marking twice is harmless): no BEGIN and COMMIT round trips.
        self._autocommit = app[keys.DB].execution_options(isolation_level="AUTOCOMMIT")

    def hand(self, rows: list[Claimed]) -> None:
        for row in rows:
            if self._in_hand >= self.most:
                # Stored and leased: the outbox loop sends it when the lease runs out.
                if not self._full:
                    log.warning("courier full (%d rows in hand); further replies wait for the outbox loop", self.most)
                self._full = True
                continue
            self._full = False
            self._in_hand += 1
            lane = (row.channel, row.recipient)
            waiting = self._lanes.get(lane)
            if waiting is not None:
                waiting.append(row)
                continue
            self._lanes[lane] = deque([row])
            task = asyncio.create_task(self._run(lane))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, lane: tuple[str, str]) -> None:
        waiting = self._lanes[lane]
        try:
            while waiting:
                async with self._gate:
                    await self._deliver(waiting[0])
                waiting.popleft()
                self._in_hand -= 1
        finally:  # rows not sent here keep their lease: the outbox loop takes them when it ends
            self._in_hand -= len(waiting)
            del self._lanes[lane]

    async def _deliver(self, row: Claimed) -> None:
        app = self.app
        messenger = app[keys.MESSENGERS].get(row.channel)
        user, chat = outbox.split_recipient(row.recipient)
        try:
            if messenger is None:
                raise Undeliverable(f"no messenger for channel {row.channel}", code="no_channel")
            delivered = await messenger.send_text(Recipient(row.channel, user=user, chat=chat), row.payload["text"],
                                                  tuple(row.payload.get("options", ())),
                                                  idempotency_key=f"outbox:{row.id}")
        except Exception as e:
            try:
                async with app[keys.SESSIONS]() as session, session.begin():
                    stored = await session.get(Outbox, row.id)
                    if stored is not None and stored.status == "sending":
                        await _failed(session, stored, e, app[keys.CLOCK].now())
            except Exception:  # the lease still runs out and the outbox loop retries the row
                log.exception("outbox %s: recording the failed delivery failed", row.id)
            return
        try:
            await self._marks.add([(row.id, delivered.message_id[:128])])
        except Exception:  # sent but not marked: at worst sent again after the lease, never lost
            log.exception("outbox %s: marking it sent failed", row.id)

    async def _mark_sent(self, sent: list[tuple[int, str]]) -> list[None]:
        now = self.app[keys.CLOCK].now()
        stmt = (update(Outbox).where(Outbox.id == bindparam("row_id"), Outbox.status == "sending")
                .values(status="sent", sent_at=now, attempts=Outbox.attempts + 1,
                        platform_message_id=bindparam("message_id")))
        async with self._autocommit.connect() as conn:
            await conn.execute(stmt, [{"row_id": i, "message_id": m} for i, m in sent])
        return [None] * len(sent)

    async def idle(self) -> None:
        """Wait until every handed row is sent or settled (tests, the simulator and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._marks.idle()
