"""Sends the outbox rows that are due: cards, card updates, notices, retries, and rows a dead process left.

Rows are claimed with a lease (PostgreSQL: FOR UPDATE SKIP LOCKED), so several workers never send the
same row at once, and a worker that dies mid-send leaves its rows to be taken again when the lease ends.
This is one of two ways out: the `OutboxSender` polls for what is due (and is woken when a transaction
that wrote rows commits, relay.wakeup), and the `Courier` (relay.courier) sends at once what this process
has just written already claimed (conversation replies). Failures follow relay.retry.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from templates.texts import Texts
from dispatch.alert_card import alert_card
from dispatch import outbox
from dispatch.ticket_card import ticket_card
from dispatch.tickets import get_ticket
from relay.messengers import Delivered, DeliveryError, Messengers, Recipient, Undeliverable
from relay.retry import OUTBOX_RETRY_FOR, is_transient, is_undeliverable, retry_or_bury
from store.clock import Clock
from store.models import CardCopy, Outbox, Ticket, TicketEvent

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
UNSENT = ("pending", "sending")


def new_owner() -> str:
    """A claim's owner token: only its holder may send and mark the rows it claimed."""
    return uuid.uuid4().hex


Sessions = async_sessionmaker[AsyncSession]


async def _claim(sessions: Sessions, now: datetime, limit: int, owner: str) -> list[int]:
    """Lease due rows to `owner`, in order per recipient: a row is taken only when every earlier unsent row
    to the same recipient is taken with it, so a later message never overtakes one still retrying."""
    async with sessions() as session, session.begin():
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


async def release(sessions: Sessions, now: datetime, ids: list[int], owner: str) -> None:
    """Hand claimed rows back to whoever polls next, in order (they wait behind a failed one)."""
    async with sessions() as session, session.begin():
        await session.execute(update(Outbox).where(Outbox.id.in_(ids), Outbox.claimed_by == owner,
                                                   Outbox.status == "sending")
                              .values(status="pending", next_attempt_at=now, claimed_by=""))


@dataclass
class _Prepared:
    send: Callable[[], Awaitable[Delivered]]
    record: Callable[[Any, Delivered], Awaitable[None]]


async def _nothing(session, delivered: Delivered) -> None:
    return None


async def failed_send(session, row: Outbox, e: Exception, now: datetime, retry_for: float = OUTBOX_RETRY_FOR) -> None:
    """Record a failed send as relay.retry says: undeliverable (staff call), retried later, or dead."""
    if is_undeliverable(e):
        row.status, row.last_error, row.attempts = "undeliverable", f"{e.code} {e}"[:500], row.attempts + 1
        await _record_undeliverable(session, row, now, str(e.code or e))
        log.warning("outbox %s undeliverable on %s: %s", row.id, row.channel, e)
        return
    if not isinstance(e, DeliveryError):  # a bug or a network error: retried with back-off, never lost
        log.error("outbox %s failed", row.id, exc_info=e)
    error = f"{e.code} {e}" if isinstance(e, DeliveryError) else repr(e)
    retry_or_bury(row, now, error, is_transient(e), retry_for)


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


def _reader(channel: str, user: str, chat: str) -> tuple[str, str] | None:
    """Who reads a card copy: a person 1:1, or nobody in particular (a group chat)."""
    return (channel, user) if user and not chat else None


class OutboxSender:
    """Claims and sends what is due; `deliver_due` is one round (the outbox loop calls it until it is 0)."""

    def __init__(self, sessions: Sessions, clock: Clock, messengers: Messengers, texts: Texts,
                 retry_for: float = OUTBOX_RETRY_FOR, sla: Any = None) -> None:
        self.sessions, self.clock, self.messengers, self.texts = sessions, clock, messengers, texts
        self.retry_for = retry_for
        self.sla = sla  # the `[sla]` figures a card's deadline line is counted with (None: the business rules')

    async def deliver_due(self, limit: int = 50) -> int:
        """Send what is due now; returns how many rows were attempted."""
        owner = new_owner()
        ids = await _claim(self.sessions, self.clock.now(), limit, owner)
        failed: set[tuple[str, str]] = set()
        held_back: list[int] = []
        for row_id in ids:
            lane = await self._deliver_one(row_id, owner, failed)
            if lane is not None:
                held_back.append(row_id)
        if held_back:  # behind a row that failed just now: back to waiting, in order, for the next round
            await release(self.sessions, self.clock.now(), held_back, owner)
        return len(ids)

    async def _deliver_one(self, row_id: int, owner: str,
                               failed: set[tuple[str, str]] | None = None) -> tuple[str, str] | None:
        """Send one claimed row if `owner` still holds it. Returns its lane when it was held back because an
        earlier row to the same recipient failed in this round (`failed`), else None."""
        clock = self.clock
        failed = set() if failed is None else failed
        async with self.sessions() as session:
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
                messenger = self.messengers.get(row.channel)
                user, chat = outbox.split_recipient(row.recipient)
                to = Recipient(row.channel, user=user, chat=chat)
                try:
                    if messenger is None:
                        raise Undeliverable(f"no messenger for channel {row.channel}", code="no_channel")
                    prepared = await self._prepare(session, row, to, messenger)
                    error = None
                except Exception as e:
                    error = e
            # No transaction is open while the platform is called, and the lease is renewed while it takes.
            if error is None:
                try:
                    delivered = await self._holding_lease(row_id, owner, prepared.send())
                except Exception as e:
                    error = e
            async with session.begin():
                stored = await session.get(Outbox, row_id, with_for_update=True, populate_existing=True)
                if error is not None:
                    if stored is not None and stored.status == "sending" and stored.claimed_by == owner:
                        await failed_send(session, stored, error, clock.now(), self.retry_for)
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


    async def _holding_lease(self, row_id: int, owner: str, send: Awaitable[Delivered]) -> Delivered:
        """Await a send while renewing the row's lease, so a slow platform call is not taken over and doubled."""
        renew = asyncio.ensure_future(self._renew_lease(row_id, owner))
        try:
            return await send
        finally:
            renew.cancel()


    async def _renew_lease(self, row_id: int, owner: str) -> None:
        clock = self.clock
        while True:
            await clock.sleep(LEASE.total_seconds() / 3)
            try:
                async with self.sessions() as session, session.begin():
                    await session.execute(update(Outbox).where(
                        Outbox.id == row_id, Outbox.claimed_by == owner, Outbox.status == "sending")
                        .values(next_attempt_at=clock.now() + LEASE))
            except Exception:  # the database is away: the send goes on, the lease may run out
                log.exception("outbox %s: renewing the lease failed", row_id)


    async def _prepare(self, session, row: Outbox, to: Recipient, messenger) -> _Prepared:
        """Render the row as it is to be sent now; the send itself and what it leaves behind come after."""
        texts = self.texts
        clock = self.clock
        payload = row.payload
        key = f"outbox:{row.id}"
        if row.kind == outbox.TEXT and "text" in payload:
            text, options = payload["text"], tuple(payload.get("options", ()))
            return _Prepared(lambda: messenger.send_text(to, text, options, idempotency_key=key), _nothing)
        if row.kind == outbox.TEXT:
            ticket = await get_ticket(session, payload["ticket"]) if payload.get("ticket") else None
            text = texts.render(payload["template"], t=ticket, **payload.get("vars", {}))
            # A question to a resident carries its answers (dispatch/prompts.py): buttons or a menu where
            # the platform has them, a line to type where it has not.
            options = tuple(payload.get("options", ()))
            return _Prepared(lambda: messenger.send_text(to, text, options, idempotency_key=key), _nothing)
        if row.kind == outbox.CARD and payload.get("audience") == "alert":
            # An overdue alert (dispatch/escalation.py): a card of its own, not a copy of the ticket's card.
            ticket = await get_ticket(session, payload["ticket"])
            card = await alert_card(session, ticket, payload["alert"], texts, clock.now(), self.sla)
            return _Prepared(lambda: messenger.send_card(to, card, idempotency_key=key), _nothing)
        if row.kind == outbox.CARD:
            ticket = await get_ticket(session, payload["ticket"])
            # The reader decides what a copy shows: the assignee's own copy is their job card.
            card = ticket_card(ticket, payload["audience"], texts, recipient=_reader(row.channel, to.user, to.chat),
                               now=clock.now(), sla=self.sla)
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
            card = ticket_card(ticket, copy.audience, texts,
                               recipient=_reader(copy.channel, copy.recipient_user, copy.recipient_chat),
                               now=clock.now(), sla=self.sla)
            copy_id, was = copy.id, Delivered(copy.message_id, copy.handle)

            async def record_update(s, delivered: Delivered) -> None:
                # The messenger answers with what the copy is now: the same message and the rewrite token it
                # has left (WeCom's are single use: "" once spent), or a fresh message sent in its place.
                stored = await s.get(CardCopy, copy_id)
                stored.updated_at = clock.now()
                stored.message_id = delivered.message_id or stored.message_id
                stored.handle = delivered.handle
            return _Prepared(lambda: messenger.update_card(to, was, card, reply_token=payload.get("reply_token", "")),
                             record_update)
        raise DeliveryError(f"unknown outbox kind {row.kind}", retryable=False)
