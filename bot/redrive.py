"""Re-drive: send set-aside inbox items and dead outbox rows through again (after an operator fixed the cause)."""
from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select, update

from bot import keys
from store.models import Outbox


async def redrive(app: web.Application, inbox: list[str] | None = None, outbox: list[int] | None = None
                  ) -> dict[str, Any]:
    """Those named (None: all of them) are waiting again; returns the ids that were. Each outbox row keeps
    its key, so a re-driven message is still sent at most once; its retry period starts afresh."""
    inbox_ids = await app[keys.INBOX].redrive(inbox)
    now = app[keys.CLOCK].now()
    async with app[keys.SESSIONS]() as session, session.begin():
        stmt = select(Outbox.id).where(Outbox.status == "dead")
        if outbox is not None:
            stmt = stmt.where(Outbox.id.in_(outbox))
        outbox_ids = list((await session.execute(stmt.order_by(Outbox.id))).scalars())
        if outbox_ids:
            await session.execute(update(Outbox).where(Outbox.id.in_(outbox_ids), Outbox.status == "dead")
                                  .values(status="pending", next_attempt_at=now, failing_since=None, claimed_by=""))
    wake = app.get(keys.OUTBOX_WAKEUP)
    if wake is not None and outbox_ids:
        wake.set()
    return {"inbox": inbox_ids, "outbox": outbox_ids}
