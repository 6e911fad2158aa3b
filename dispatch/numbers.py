"""Ticket numbers BX<yyyymmdd>-<nnnn>: a daily sequence that stays unique under concurrency."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from store.db import connection_of
from store.models import TicketCounter

COUNTERS = TicketCounter.__table__


def _take(insert):
    """Increment and return the day's counter in one statement (built once: building costs more than running)."""
    return (insert(COUNTERS)
            .values(day=bindparam("day"), last=1)
            .on_conflict_do_update(index_elements=[COUNTERS.c.day], set_={"last": COUNTERS.c.last + 1})
            .returning(COUNTERS.c.last))


TAKE = {"postgresql": _take(pg_insert), "sqlite": _take(sqlite_insert)}


def local_day(now: datetime, tz: str) -> str:
    return now.astimezone(ZoneInfo(tz)).strftime("%Y%m%d")


def format_number(day: str, seq: int) -> str:
    return f"BX{day}-{seq:04d}"


async def next_number(db: AsyncSession | AsyncConnection, now: datetime, tz: str = "Asia/Shanghai") -> str:
    """Take the next number of the local day inside the caller's transaction.

    An upsert that increments and returns in one statement: PostgreSQL row-locks the counter until
    the transaction ends, SQLite serialises writers, so two tickets never share a number.
    """
    conn = await connection_of(db)
    day = local_day(now, tz)
    seq = (await conn.execute(TAKE[conn.dialect.name], {"day": day})).scalar_one()
    return format_number(day, seq)
