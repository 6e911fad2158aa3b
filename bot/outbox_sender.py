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
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
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
RETRY_FOR = 3600.0   # seconds transient failures are retried before a row is dead ([outbox] retry_for)
MAX_PAUSE = 300.0    # the longest pause between two tries of one row
UNSENT = ("pending", "sending")


def backoff(attempts: int) -> timedelta:
    """Exponential with jitter (2 s, 4 s, … capped at 5 min): retries never stampede a platform."""
    cap = min(MAX_PAUSE, 2.0 * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=random.uniform(cap / 2, cap))


def new_owner() -> str:
    """A claim's owner token: only its holder may send and mark the rows it claimed."""
    return uuid.uuid4().hex


def _retry_for(app: web.Application) -> float:
    return float(app[keys.SETTINGS].outbox.retry_for)


async def _claim(app: web.Application, now: datetime, limit: int, owner: str) -> list[int]:
    """Lease due rows to `owner`, in order per recipient: a row is taken only when every earlier unsent row
    to the same recipient is taken with it, so a later message never overtakes one still retrying."""
    async with app[keys.SESSIONS]() as session, session.begin():
        stmt = (select(Outbox.id, Outbox.channel, Outbox.recipient)
                .where(Outbox.status.in_(UNSENT), Outbox.next_attempt_at <= now).order_by(Outbox.id).limit(limit))
        if session.bind.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        due = (await session.execute(stmt)).all()
        if not due:
            return []
        due_ids = {row_id for row_id, _, _ in due}
        lanes = {(channel, recipient) for _, channel, recipient in due}
        earlier = (await session.execute(
            select(Outbox.id, Outbox.channel, Outbox.recipient)
            .where(Outbox.status.in_(UNSENT), Outbox.id <= max(due_ids),
                   Outbox.recipient.in_({r for _, r in lanes})).order_by(Outbox.id))).all()
        blocked: set[tuple[str, str]] = set()
        ids = []
        for row_id, channel, recipient in earlier:
            lane = (channel, recipient)
            if lane not in lanes or lane in blocked:
                continue
            if row_id in due_ids:
                ids.append(row_id)
            else:  # backing off, or leased to somebody else: everything after it waits
                blocked.add(lane)
        if ids:
            await session.execute(update(Outbox).where(Outbox.id.in_(ids))
                                  .values(status="sending", next_attempt_at=now + LEASE, claimed_by=owner))
        return ids


async def deliver_due(app: web.Application, limit: int = 50) -> int:
    """Send what is due now; returns how many rows were attempted."""
    owner = new_owner()
    ids = await _claim(app, app[keys.CLOCK].now(), limit, owner)
    failed: set[tuple[str, str]] = set()
    held_back: list[int] = []
    for row_id in ids:
        lane = await _deliver_one(app, row_id, owner, failed)
        if lane is not None:
            held_back.append(row_id)
    if held_back:  # behind a row that failed just now: back to waiting, in order, for the next round
        await _release(app, held_back, owner)
    return len(ids)


async def _release(app: web.Application, ids: list[int], owner: str) -> None:
    async with app[keys.SESSIONS]() as session, session.begin():
        await session.execute(update(Outbox).where(Outbox.id.in_(ids), Outbox.claimed_by == owner,
                                                   Outbox.status == "sending")
                              .values(status="pending", next_attempt_at=app[keys.CLOCK].now(), claimed_by=""))


@dataclass
class _Prepared:
    send: Callable[[], Awaitable[Delivered]]
    record: Callable[[Any, Delivered], Awaitable[None]]


async def _nothing(session, delivered: Delivered) -> None:
    return None


async def _deliver_one(app: web.Application, row_id: int, owner: str,
                       failed: set[tuple[str, str]] | None = None) -> tuple[str, str] | None:
    """Send one claimed row if `owner` still holds it. Returns its lane when it was held back because an
    earlier row to the same recipient failed in this round (`failed`), else None."""
    clock = app[keys.CLOCK]
    failed = set() if failed is None else failed
    async with app[keys.SESSIONS]() as session:
        async with session.begin():
            # Still ours? Renewing the lease on (id, owner) decides: a row whose lease ran out while this
            # batch was busy, and which another process took, is left to that process.
            renewed = await session.execute(update(Outbox).where(
                Outbox.id == row_id, Outbox.claimed_by == owner, Outbox.status == "sending")
                .values(next_attempt_at=clock.now() + LEASE))
            if renewed.rowcount != 1:
                return None
            row = await session.get(Outbox, row_id, populate_existing=True)
            lane = (row.channel, row.recipient)
            if lane in failed:
                return lane
            messenger = app[keys.MESSENGERS].get(row.channel)
            user, chat = outbox.split_recipient(row.recipient)
            to = Recipient(row.channel, user=user, chat=chat)
            try:
                if messenger is None:
                    raise Undeliverable(f"no messenger for channel {row.channel}", code="no_channel")
                prepared = await _prepare(app, session, row, to, messenger)
                error = None
            except Exception as e:
                error = e
        # No transaction is open while the platform is called, and the lease is renewed while it takes.
        if error is None:
            try:
                delivered = await _holding_lease(app, row_id, owner, prepared.send())
            except Exception as e:
                error = e
        async with session.begin():
            stored = await session.get(Outbox, row_id, with_for_update=True, populate_existing=True)
            if error is not None:
                if stored is not None and stored.status == "sending" and stored.claimed_by == owner:
                    await _failed(session, stored, error, clock.now(), _retry_for(app))
                    if stored.status == "pending":
                        failed.add(lane)
                return None
            if stored is None or stored.status != "sending" or stored.claimed_by != owner:
                log.warning("outbox %s was sent after another process took its lease", row_id)
            else:
                stored.status, stored.sent_at, stored.attempts = "sent", clock.now(), stored.attempts + 1
                stored.platform_message_id = delivered.message_id[:128]
                stored.failing_since = None
            await prepared.record(session, delivered)  # it was sent: keep what the platform answered
    return None


async def _holding_lease(app: web.Application, row_id: int, owner: str, send: Awaitable[Delivered]) -> Delivered:
    """Await a send while renewing the row's lease, so a slow platform call is not taken over and doubled."""
    renew = asyncio.ensure_future(_renew_lease(app, row_id, owner))
    try:
        return await send
    finally:
        renew.cancel()


async def _renew_lease(app: web.Application, row_id: int, owner: str) -> None:
    clock = app[keys.CLOCK]
    while True:
        await clock.sleep(LEASE.total_seconds() / 3)
        try:
            async with app[keys.SESSIONS]() as session, session.begin():
                await session.execute(update(Outbox).where(
                    Outbox.id == row_id, Outbox.claimed_by == owner, Outbox.status == "sending")
                    .values(next_attempt_at=clock.now() + LEASE))
        except Exception:  # the database is away: the send goes on, the lease may run out
            log.exception("outbox %s: renewing the lease failed", row_id)


async def _failed(session, row: Outbox, e: Exception, now: datetime, retry_for: float = RETRY_FOR) -> None:
    if isinstance(e, Undeliverable):
        row.status, row.last_error, row.attempts = "undeliverable", f"{e.code} {e}"[:500], row.attempts + 1
        await _record_undeliverable(session, row, now, str(e.code or e))
        log.warning("outbox %s undeliverable on %s: %s", row.id, row.channel, e)
    elif isinstance(e, DeliveryError):
        _retry_or_bury(row, now, f"{e.code} {e}", e.retryable, retry_for)
    else:  # a bug or a network error: retry with back-off, never lose the row
        log.error("outbox %s failed", row.id, exc_info=e)
        _retry_or_bury(row, now, repr(e), True, retry_for)


def _retry_or_bury(row: Outbox, now: datetime, error: str, retryable: bool, retry_for: float = RETRY_FOR) -> None:
    """Transient failures are retried with back-off until they have lasted `retry_for` seconds; a
    permanent one is dead at once."""
    row.attempts += 1
    row.last_error = error[:500]
    row.claimed_by = ""
    row.failing_since = row.failing_since or now
    if retryable and (now - row.failing_since).total_seconds() < retry_for:
        row.status, row.next_attempt_at = "pending", now + backoff(row.attempts)
    else:
        row.status = "dead"  # a dead letter: listed for staff, never silently dropped
        log.error("outbox %s dead after %d attempts: %s", row.id, row.attempts, error[:200])


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


async def _prepare(app, session, row: Outbox, to: Recipient, messenger) -> _Prepared:
    """Render the row as it is to be sent now; the send itself and what it leaves behind come after."""
    texts = app[keys.ENGINE].deps.texts
    clock = app[keys.CLOCK]
    payload = row.payload
    key = f"outbox:{row.id}"
    if row.kind == outbox.TEXT and "text" in payload:
        text, options = payload["text"], tuple(payload.get("options", ()))
        return _Prepared(lambda: messenger.send_text(to, text, options, idempotency_key=key), _nothing)
    if row.kind == outbox.TEXT:
        ticket = await get_ticket(session, payload["ticket"]) if payload.get("ticket") else None
        text = texts.render(payload["template"], t=ticket, **payload.get("vars", {}))
        return _Prepared(lambda: messenger.send_text(to, text, idempotency_key=key), _nothing)
    if row.kind == outbox.CARD:
        ticket = await get_ticket(session, payload["ticket"])
        card = ticket_card(ticket, payload["audience"], texts)
        ticket_id, audience = ticket.id, payload["audience"]

        async def record_copy(s, delivered: Delivered) -> None:
            s.add(CardCopy(ticket_id=ticket_id, channel=row.channel, recipient_user=to.user, recipient_chat=to.chat,
                           audience=audience, message_id=delivered.message_id, handle=delivered.handle,
                           created_at=clock.now()))
        return _Prepared(lambda: messenger.send_card(to, card, idempotency_key=key), record_copy)
    if row.kind == outbox.CARD_UPDATE:
        copy = await session.get(CardCopy, payload["copy_id"])
        ticket = await session.get(Ticket, copy.ticket_id)
        await session.refresh(ticket, ["assignee", "photos"])
        card = ticket_card(ticket, copy.audience, texts)
        copy_id, was = copy.id, Delivered(copy.message_id, copy.handle)

        async def record_update(s, delivered: Delivered) -> None:
            stored = await s.get(CardCopy, copy_id)
            stored.updated_at = clock.now()
            if delivered.handle:
                stored.handle = delivered.handle
        return _Prepared(lambda: messenger.update_card(to, was, card, reply_token=payload.get("reply_token", "")),
                         record_update)
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
    messages in order, different people's go concurrently; successes are marked in one UPDATE per round.

    The rows are leased to this courier's owner token; a send that fails hands the recipient's later rows
    to the outbox loop, which keeps them behind the failed one, and until that recipient's backlog is gone
    their new rows go the same way."""

    def __init__(self, app: web.Application, concurrency: int = 32, most: int = 10_000) -> None:
        self.app = app
        self.owner = new_owner()
        self.most = most  # rows in hand at most: a slow platform must not pile replies up in memory
        self._in_hand = 0
        self._full = False
        self._lanes: dict[tuple[str, str], deque[Claimed]] = {}
        self._blocked: set[tuple[str, str]] = set()  # recipients with an earlier row still retrying
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
                if lane in self._blocked and await self._backlog(waiting[0]):
                    await self._release([waiting.popleft() for _ in range(len(waiting))])
                    continue
                self._blocked.discard(lane)
                async with self._gate:
                    sent = await self._deliver(waiting[0])
                waiting.popleft()
                self._in_hand -= 1
                if not sent:
                    self._blocked.add(lane)
        finally:  # rows not sent here keep their lease: the outbox loop takes them when it ends
            self._in_hand -= len(waiting)
            del self._lanes[lane]

    async def _backlog(self, row: Claimed) -> bool:
        """Is an earlier row to this recipient still unsent (retrying in the outbox loop)?"""
        async with self.app[keys.SESSIONS]() as session:
            return (await session.execute(select(Outbox.id).where(
                Outbox.channel == row.channel, Outbox.recipient == row.recipient, Outbox.status.in_(UNSENT),
                Outbox.id < row.id).limit(1))).first() is not None

    async def _release(self, rows: list[Claimed]) -> None:
        self._in_hand -= len(rows)
        try:
            await _release(self.app, [r.id for r in rows], self.owner)
        except Exception:  # they keep their lease: the outbox loop takes them when it runs out
            log.exception("outbox: handing rows back to the outbox loop failed")
        wake = self.app.get(keys.OUTBOX_WAKEUP)
        if wake is not None:
            wake.set()

    async def _deliver(self, row: Claimed) -> bool:
        """True when the row is settled (sent, or never deliverable); False when it waits for a retry."""
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
                    stored = await session.get(Outbox, row.id, with_for_update=True)
                    if stored is not None and stored.status == "sending" and stored.claimed_by == self.owner:
                        await _failed(session, stored, e, app[keys.CLOCK].now(), _retry_for(app))
                        return stored.status != "pending"
            except Exception:  # the lease still runs out and the outbox loop retries the row
                log.exception("outbox %s: recording the failed delivery failed", row.id)
            return False
        try:
            await self._marks.add([(row.id, delivered.message_id[:128])])
        except Exception:  # sent but not marked: at worst sent again after the lease, never lost
            log.exception("outbox %s: marking it sent failed", row.id)
        return True

    async def _mark_sent(self, sent: list[tuple[int, str]]) -> list[None]:
        now = self.app[keys.CLOCK].now()
        # Only while this courier still holds the lease: a row another process took over is theirs.
        stmt = (update(Outbox).where(Outbox.id == bindparam("row_id"), Outbox.status == "sending",
                                     Outbox.claimed_by == self.owner)
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
