"""Re-drive: send set-aside inbox items and dead outbox rows through again (after an operator fixed the cause)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.inbox import Inbox
from relay.wakeup import OutboxWakeup
from store.clock import Clock
from store.models import Outbox


async def redrive(inbox: Inbox, sessions: async_sessionmaker[AsyncSession], clock: Clock, wakeup: OutboxWakeup,
                  inbox_ids: list[str] | None = None, outbox_ids: list[int] | None = None) -> dict[str, Any]:
    """Those named (None: all of them) are waiting again; returns the ids that were. Each outbox row keeps
    its key, so a re-driven message is still sent at most once; its retry period starts afresh."""
    waiting = await inbox.redrive(inbox_ids)
    now = clock.now()
    async with sessions() as session, session.begin():
        stmt = select(Outbox.id).where(Outbox.status == "dead")
        if outbox_ids is not None:
            stmt = stmt.where(Outbox.id.in_(outbox_ids))
        rows = list((await session.execute(stmt.order_by(Outbox.id))).scalars())
        if rows:
            await session.execute(update(Outbox).where(Outbox.id.in_(rows), Outbox.status == "dead")
                                  .values(status="pending", next_attempt_at=now, failing_since=None, claimed_by=""))
    if rows:
        wakeup.set()
    return {"inbox": waiting, "outbox": rows}
