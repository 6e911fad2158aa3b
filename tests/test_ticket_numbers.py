"""Ticket numbers BX<yyyymmdd>-<nnnn>: daily sequence in local time, unique under concurrency."""
from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from dispatch.numbers import next_number
from store.db import make_database, make_sessionmaker


async def test_concurrent_numbers_are_unique_and_dense(backend):
    db = make_database(backend.db_url, pool_size=20)
    sessions = make_sessionmaker(db)
    now = datetime(2026, 11, 29, 23, 59, tzinfo=ZoneInfo("Asia/Shanghai"))

    async def take() -> str:
        async with sessions() as s, s.begin():
            return await next_number(s, now)

    numbers = await asyncio.gather(*(take() for _ in range(40)))
    await db.dispose()
    assert sorted(numbers) == [f"BX20261129-{i:04d}" for i in range(1, 41)]


async def test_the_day_is_the_local_day(backend):
    db = make_database(backend.db_url)
    sessions = make_sessionmaker(db)
    # 16:30 UTC on the 29th is 00:30 on the 30th in Shanghai: a new day, a new sequence.
    async with sessions() as s, s.begin():
        late = await next_number(s, datetime(2026, 11, 29, 16, 30, tzinfo=ZoneInfo("UTC")))
    await db.dispose()
    assert late == "BX20261130-0001"


async def test_a_filed_ticket_takes_the_next_number_past_four_digits(backend):
    """A busy day past 9999 gets five digits, as f"{n:04d}" would give, on every database's filing path."""
    from dispatch.filing import file_report
    from dispatch.tickets import NewTicket
    from store.models import TicketCounter

    db = make_database(backend.db_url)
    sessions = make_sessionmaker(db)
    now = datetime(2026, 11, 29, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    new = NewTicket(area="public", location="A座大堂", location_key="A座大堂", reporter_name="王女士",
                    phone="13812345678", description="灯不亮", category="normal", trade="electrical", channel="api")
    async with sessions() as s, s.begin():
        s.add(TicketCounter(day="20261129", last=9998))
    numbers = []
    for _ in range(2):
        async with sessions() as s, s.begin():
            numbers.append((await file_report(s, new, "api:desk", now, channels=set(), load_related=False)).number)
    await db.dispose()
    assert numbers == ["BX20261129-9999", "BX20261129-10000"]
