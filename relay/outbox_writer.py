"""Conversation replies into the outbox: many steps' rows per INSERT, claimed by this process as written.

A step's answers must be recorded before its inbox item is acknowledged (nothing lost), but a round
trip per step is what limits a worker. Concurrent steps therefore share one INSERT (group commit), and
the rows are written already claimed (status "sending" with a lease) and handed straight to this
process's courier, so nobody reads back what was just written. Should this process die before sending,
the lease runs out and any process's outbox loop sends them.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.messages import Reply
from dispatch import outbox
from relay.courier import Claimed, Courier
from relay.group_commit import GroupCommit
from relay.outbox_sender import LEASE
from relay.wakeup import QUIET
from store.clock import Clock
from store.models import Outbox


class OutboxWriter:
    def __init__(self, database: AsyncEngine, clock: Clock, courier: Courier) -> None:
        # One INSERT is atomic by itself: without BEGIN and COMMIT it is one round trip, not three. Its
        # rows go to this process's courier, so the outbox loop need not be woken for them.
        self.database = database.execution_options(isolation_level="AUTOCOMMIT", **QUIET)
        self.clock = clock
        self.courier = courier
        self._commit: GroupCommit[dict[str, Any], Claimed | None] = GroupCommit(self._insert)
        self._insert_stmt = outbox.insert_once(database.dialect.name).returning(Outbox.id, Outbox.dedupe_key)

    async def queue_replies(self, channel: str, user: str, chat: str, replies: list[Reply], message_id: str) -> None:
        """Record a conversation's answers in the outbox, then send them.

        Keyed on the platform message id, so a redelivered message never sends its answers twice, and a
        platform that fails now gets them later instead of never.
        """
        await self.queue([
            dict(key=f"reply:{channel}:{message_id}:{i}", channel=channel, user=user, chat=chat,
                 payload={"text": r.text, "options": list(r.options)})
            for i, r in enumerate(replies)])

    async def queue(self, rows: list[dict[str, Any]]) -> None:
        """Record text rows (`key`, `channel`, `payload`, `user`/`chat`) once per key, then send them."""
        claimed = await self._commit.add(rows)
        self.courier.hand([c for c in claimed if c is not None])

    async def _insert(self, rows: list[dict[str, Any]]) -> list[Claimed | None]:
        now = self.clock.now()
        values = outbox.values_of(rows, kind=outbox.TEXT, now=now, status="sending", next_attempt_at=now + LEASE,
                                  claimed_by=self.courier.owner)
        async with self.database.connect() as conn:
            # executemany: one compiled statement whatever the batch size ("insertmanyvalues" sends the
            # rows as few multi-row INSERTs)
            result = await conn.execute(self._insert_stmt, values)
            ids = {key: row_id for row_id, key in result.all()}
        out: list[Claimed | None] = []
        for v in values:
            # A key seen before (a redelivered message) inserted nothing: its first row is sent, not this one.
            row_id = ids.pop(v["dedupe_key"], None)
            out.append(None if row_id is None else Claimed(row_id, v["channel"], v["recipient"], v["payload"]))
        return out

    async def idle(self) -> None:
        await self._commit.idle()
