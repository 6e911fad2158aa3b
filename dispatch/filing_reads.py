"""What a filing reads first: who hears of the ticket, the job it repeats (BR-24), the desk on duty (BR-3)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Boolean, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dispatch.duty import Duty
from dispatch.routing import DispatchPlan, desk_params, desk_reach, plan_dispatch, plan_of, reach_of
from dispatch.statements import AUDIENCE, DESK_ON_DUTY
from dispatch.tickets import NewTicket
from dispatch.warranty import LATEST_JOB, Warranty, warranty_for, warranty_of


def _combined():
    """`AUDIENCE`'s rows, each with two JSON columns computed once (uncorrelated subqueries): the job a warranty
    repair repeats with its technician's accounts (`LATEST_JOB`, when `want_warranty`) and the desk's accounts
    (`DESK_ON_DUTY`, when `want_desk`)."""
    job, desk = LATEST_JOB.subquery("job"), DESK_ON_DUTY.subquery("desk")
    warranty = (select(func.json_agg(func.json_build_array(job.c.number, job.c.name, job.c.platform,
                                                           job.c.external_id)))
                .where(bindparam("want_warranty", type_=Boolean())).scalar_subquery())
    on_duty = (select(func.json_agg(func.json_build_array(desk.c.id, desk.c.platform, desk.c.external_id)))
               .where(bindparam("want_desk", type_=Boolean())).scalar_subquery())
    return AUDIENCE.add_columns(warranty.label("warranty"), on_duty.label("desk"))


# Built once: building a statement costs more than running it.
READS_ON_POSTGRESQL = _combined()
_FAR_PAST = datetime(2000, 1, 1).astimezone()


async def filing_reads(conn: AsyncConnection, new: NewTicket, now: datetime, channels: set[str], warranty_days: int,
                       duty: Duty | None) -> tuple[DispatchPlan, Warranty | None, list[tuple[str, str]] | None]:
    """The dispatch plan, the warranty (None: not one) and the desk's accounts (None: no `duty`). One round trip on
    PostgreSQL (`READS_ON_POSTGRESQL`); elsewhere one query each."""
    want_warranty = warranty_days > 0 and bool(new.location_key)
    if conn.dialect.name != "postgresql":
        plan = await plan_dispatch(conn, new.trade, channels)
        warranty = await warranty_for(conn, new.location_key, new.trade, now, warranty_days)
        reach = await desk_reach(conn, duty, now, channels) if duty is not None else None
        return plan, warranty, reach
    desk = desk_params(duty, now) if duty is not None else {"property": "", "night": False, "day": now.date(),
                                                             "computed": ""}
    rows = (await conn.execute(READS_ON_POSTGRESQL, {
        "trade": new.trade, "location_key": new.location_key,
        "since": now - timedelta(days=warranty_days) if want_warranty else _FAR_PAST,
        "want_warranty": want_warranty, "want_desk": duty is not None, **desk})).all()
    warranty = warranty_of(rows[0].warranty or []) if want_warranty else None
    reach = reach_of(rows[0].desk or [], channels) if duty is not None else None
    return plan_of(rows, new.trade, channels), warranty, reach
