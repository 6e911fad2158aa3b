"""Warranty repairs (保修, BR-24): the same place and trade again within `warranty_days` of a finished job is
free, linked to that job, and offered first to the technician who did it."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import bindparam, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dispatch import outbox, statuses
from dispatch.routing import DispatchPlan
from dispatch.statements import IDENTITIES, PERSONS, TICKETS

# Finished work: what a warranty covers (a cancelled or still open ticket covers nothing).
FINISHED = (statuses.COMPLETED, statuses.VERIFIED, statuses.CLOSED)
NOTICE = "notify/warranty.j2"

# The latest job finished at this place in this trade within the window, with the accounts of whoever did
# it: one query on ix_tickets_dup (location_key, trade, …), before the ticket is filed.
_LATEST = (
    select(TICKETS.c.number, TICKETS.c.assignee_id)
    .where(TICKETS.c.location_key == bindparam("location_key"), TICKETS.c.trade == bindparam("trade"),
           TICKETS.c.status.in_([literal(s) for s in FINISHED]),
           TICKETS.c.completed_at >= bindparam("since", type_=TICKETS.c.completed_at.type))
    .order_by(TICKETS.c.completed_at.desc(), TICKETS.c.id.desc()).limit(1)
    .subquery("latest"))
LATEST_JOB = (
    select(_LATEST.c.number, _LATEST.c.assignee_id, PERSONS.c.name, IDENTITIES.c.platform, IDENTITIES.c.external_id)
    .select_from(_LATEST.outerjoin(PERSONS, PERSONS.c.id == _LATEST.c.assignee_id)
                 .outerjoin(IDENTITIES, IDENTITIES.c.person_id == PERSONS.c.id)))


@dataclass(frozen=True)
class Warranty:
    """The finished job a new report falls under, and who did it."""

    of: str                                   # its ticket number: the new ticket's `warranty_of`
    technician: str = ""                      # their name ("" when nobody was assigned)
    accounts: frozenset[tuple[str, str]] = frozenset()   # their (platform, external id) accounts

    def first_offer(self, plan: DispatchPlan) -> DispatchPlan | None:
        """The dispatch narrowed to the technician who did the job: their card only, when they are still a
        technician of the trade we can reach one to one (the plan has them); None otherwise."""
        theirs = tuple(t for t in plan.technicians if (t[0], t[1]) in self.accounts)
        return replace(plan, groups=(), technicians=theirs[:1]) if theirs else None


async def warranty_for(conn: AsyncConnection, location_key: str, trade: str, now: datetime,
                       days: int) -> Warranty | None:
    """BR-24: the job a report at `location_key` in `trade` is a warranty repair of, if any."""
    if days <= 0 or not location_key:
        return None
    rows = (await conn.execute(LATEST_JOB, {"location_key": location_key, "trade": trade,
                                            "since": now - timedelta(days=days)})).all()
    return warranty_of([(number, name, platform, user) for number, _, name, platform, user in rows])


def warranty_of(rows) -> Warranty | None:
    """The warranty from the latest job's (number, technician's name, platform, account) rows; None without any."""
    if not rows:
        return None
    number, name, *_ = rows[0]
    return Warranty(number, name or "", frozenset((r[2], r[3]) for r in rows if r[2]))


def notice_messages(number: str, plan: DispatchPlan, warranty: Warranty, first: bool) -> list[tuple[str, dict]]:
    """The trade's supervisors hear that a warranty repair came in, and whether it went to the first
    technician only (they can reassign it) or to everyone."""
    payload = {"template": NOTICE, "ticket": number,
               "vars": {"of": warranty.of, "technician": warranty.technician if first else ""}}
    return [(outbox.TEXT, dict(key=f"{number}:{NOTICE}:{channel}:{user}", channel=channel, user=user, payload=payload))
            for channel, user in plan.supervisors]

