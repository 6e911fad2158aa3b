"""Ticket numbers BX<yyyymmdd>-<nnnn>: a daily sequence that stays unique under concurrency."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import TicketCounter


async def next_number(session: AsyncSession, now: datetime, tz: str = "Asia/Shanghai") -> str:
    """Take the next number of the local day inside the caller's transaction.

    An upsert that increments and returns in one statement: PostgreSQL row-locks the counter until
    the transaction ends, SQLite serialises writers, so two tickets never share a number.
    """
    day = now.astimezone(ZoneInfo(tz)).strftime("%Y%m%d")
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(TicketCounter)
        .values(day=day, last=1)
        .on_conflict_do_update(index_elements=[TicketCounter.day], set_={"last": TicketCounter.last + 1})
        .returning(TicketCounter.last)
    )
    seq = (await session.execute(stmt)).scalar_one()
    return f"BX{day}-{seq:04d}"
