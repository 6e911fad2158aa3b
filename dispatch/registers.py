"""The registers' rows (BR-28, BR-29): the tickets of a period in report order, streamed from the database.

Public-area tickets make the 工程维修单追踪统计表, unit tickets the 工程有偿维修单追踪统计表 (the paper process
kept one for each); both come from one query, read in batches through a server-side cursor, so a period of
100,000 tickets never sits in memory at once.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.reports import Period, in_period
from store.models import Person, Ticket

T = Ticket.__table__
P = Person.__table__

COLUMNS = ("id", "number", "created_at", "area", "building", "location", "description", "reporter_name", "phone",
           "category", "trade", "channel", "status", "hold_reason", "accepted_at", "arrived_at", "completed_at",
           "verified_at", "closed_at", "signoff", "rating", "survey", "warranty_of", "quote_items", "quote",
           "quote_status", "fee", "waiver", "materials", "work_minutes", "completion_note")


async def register_rows(session: AsyncSession, period: Period, areas: Sequence[str] = ("public", "unit"),
                        batch: int = 1000) -> AsyncIterator[list[Any]]:
    """Batches of rows (named like the ticket's columns, plus `assignee`) of the period's tickets in `areas`,
    oldest report first."""
    stmt = (select(*(T.c[c] for c in COLUMNS), P.c.name.label("assignee"))
            .select_from(T.outerjoin(P, P.c.id == T.c.assignee_id))
            .where(in_period(period), T.c.area.in_(list(areas)))
            .order_by(T.c.created_at, T.c.id)
            .execution_options(yield_per=batch))
    result = await session.stream(stmt)
    try:
        async for rows in result.partitions(batch):
            yield rows
    finally:
        await result.close()
