"""The courier: sends at once the replies this process has just written, already claimed, without reading them back."""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from dispatch import outbox
from relay.group_commit import GroupCommit
from relay.messengers import Messengers, Recipient, Undeliverable
from relay.outbox_sender import UNSENT, Sessions, failed_send, new_owner, release
from relay.retry import OUTBOX_RETRY_FOR
from relay.wakeup import OutboxWakeup
from store.clock import Clock
from store.models import Outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claimed:
    """A text row this process wrote already claimed (see relay.outbox_writer)."""

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

    def __init__(self, database: AsyncEngine, sessions: Sessions, clock: Clock, messengers: Messengers,
                 wakeup: OutboxWakeup, *, retry_for: float = OUTBOX_RETRY_FOR, concurrency: int = 32,
                 most: int = 10_000) -> None:
        self.sessions, self.clock, self.messengers, self.wakeup = sessions, clock, messengers, wakeup
        self.retry_for = retry_for
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
        self._autocommit = database.execution_options(isolation_level="AUTOCOMMIT")

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
        async with self.sessions() as session:
            return (await session.execute(select(Outbox.id).where(
                Outbox.channel == row.channel, Outbox.recipient == row.recipient, Outbox.status.in_(UNSENT),
                Outbox.id < row.id).limit(1))).first() is not None

    async def _release(self, rows: list[Claimed]) -> None:
        self._in_hand -= len(rows)
        try:
            await release(self.sessions, self.clock.now(), [r.id for r in rows], self.owner)
        except Exception:  # they keep their lease: the outbox loop takes them when it runs out
            log.exception("outbox: handing rows back to the outbox loop failed")
        self.wakeup.set()

    async def _deliver(self, row: Claimed) -> bool:
        """True when the row is settled (sent, or never deliverable); False when it waits for a retry."""
        messenger = self.messengers.get(row.channel)
        user, chat = outbox.split_recipient(row.recipient)
        try:
            if messenger is None:
                raise Undeliverable(f"no messenger for channel {row.channel}", code="no_channel")
            delivered = await messenger.send_text(Recipient(row.channel, user=user, chat=chat), row.payload["text"],
                                                  tuple(row.payload.get("options", ())),
                                                  idempotency_key=f"outbox:{row.id}")
        except Exception as e:
            try:
                async with self.sessions() as session, session.begin():
                    stored = await session.get(Outbox, row.id, with_for_update=True)
                    if stored is not None and stored.status == "sending" and stored.claimed_by == self.owner:
                        await failed_send(session, stored, e, self.clock.now(), self.retry_for)
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
        now = self.clock.now()
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
