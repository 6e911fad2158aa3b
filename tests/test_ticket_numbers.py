"""Ticket numbers BX<yyyymmdd>-<nnnn>: daily sequence in local time, unique under concurrency."""
from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from dispatch.numbers import next_number
from store.db import make_engine, make_sessionmaker


async def test_concurrent_numbers_are_unique_and_dense(backend):
    db = make_engine(backend.db_url, pool_size=20)
    sessions = make_sessionmaker(db)
    now = datetime(2026, 11, 29, 23, 59, tzinfo=ZoneInfo("Asia/Shanghai"))

    async def take() -> str:
        async with sessions() as s, s.begin():
            return await next_number(s, now)

    numbers = await asyncio.gather(*(take() for _ in range(40)))
    await db.dispose()
    assert sorted(numbers) == [f"BX20261129-{i:04d}" for i in range(1, 41)]


async def test_the_day_is_the_local_day(backend):
    db = make_engine(backend.db_url)
    sessions = make_sessionmaker(db)
    # 16:30 UTC on the 29th is 00:30 on the 30th in Shanghai: a new day, a new sequence.
    async with sessions() as s, s.begin():
        late = await next_number(s, datetime(2026, 11, 29, 16, 30, tzinfo=ZoneInfo("UTC")))
    await db.dispose()
    assert late == "BX20261130-0001"
