"""Follow-up calls (回访, BR-25): every unit ticket, and enough public ones that 60 % of all are called."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from sqlalchemy import bindparam, func, select

from dispatch import audit
from dispatch.numbers import TAKE
from dispatch.policy import Policy
from store.db import connection_of
from store.models import Followup, Ticket, TicketCounter, TicketEvent

UNIT = "unit"          # a resident's own unit: always called (BR-25: 100 %)
SAMPLE = "sample"      # a public-area ticket picked to keep the share of all at least `followup_share`
OUTCOMES = ("reached", "unreachable")
# Running totals kept as rows of the ticket counter table (beside the days' "<yyyymmdd>" and "TS<yymmdd>"):
# counting a million verified tickets on every verification would be a full scan each time.
VERIFIED, PICKED = "FU:all", "FU:pick"
COUNTERS = TicketCounter.__table__
READ = select(COUNTERS.c.last).where(COUNTERS.c.day == bindparam("day"))


async def pick(session, ticket: Ticket, now: datetime, policy: Policy, *, known_new: bool = False
               ) -> Followup | None:
    """Pick the just-verified ticket for a follow-up call, or not; at most once per ticket.

    A unit ticket is always picked. A public one is picked when, without it, the share of verified
    tickets picked would fall below `policy.followup_share`: the share holds after every verification,
    not only on average, and the same history always picks the same tickets. The verified counter's row
    lock (PostgreSQL; SQLite has one writer) makes concurrent verifications decide one after the other.
    """
    if not known_new:     # `known_new`: the caller verified the ticket just now, in this transaction
        existing = (await session.execute(select(Followup).where(Followup.ticket_id == ticket.id))
                    ).scalar_one_or_none()
        if existing is not None:
            return existing
    conn = await connection_of(session)
    take = TAKE[conn.dialect.name]
    if ticket.area == UNIT:
        reason = UNIT       # always picked: both counters move, in one statement
        await conn.execute(take, [{"day": VERIFIED}, {"day": PICKED}])
    else:
        verified = (await conn.execute(take, {"day": VERIFIED})).scalar_one()
        picked = (await conn.execute(READ, {"day": PICKED})).scalar_one_or_none() or 0
        if picked >= Fraction(str(policy.followup_share)) * verified:
            return None
        reason = SAMPLE
        await conn.execute(take, {"day": PICKED})
    followup = Followup(ticket_id=ticket.id, reason=reason, selected_at=now)
    session.add(followup)
    audit.record(session, ticket.id, now, "system", "system", "followup_selected", ticket.status, ticket.status,
                 {"reason": reason})
    await session.flush()
    return followup


@dataclass(frozen=True)
class Coverage:
    verified: int
    verified_unit: int
    picked: int
    picked_unit: int
    called: int

    def as_dict(self) -> dict:
        def share(part: int, whole: int) -> float | None:
            return round(part / whole, 4) if whole else None
        return {"all": share(self.picked, self.verified), "unit": share(self.picked_unit, self.verified_unit),
                "verified": self.verified, "verified_unit": self.verified_unit, "picked": self.picked,
                "picked_unit": self.picked_unit, "called": self.called}


async def coverage(session) -> Coverage:
    """How many verified tickets there are and how many were picked and called (all, and in units)."""
    is_unit = Ticket.area == UNIT
    verified, verified_unit = (await session.execute(
        select(func.count(Ticket.id), func.count(Ticket.id).filter(is_unit)).where(Ticket.verified_at.is_not(None))
    )).one()
    picked, picked_unit, called = (await session.execute(
        select(func.count(Followup.id), func.count(Followup.id).filter(is_unit),
               func.count(Followup.called_at)).join(Ticket, Ticket.id == Followup.ticket_id))).one()
    return Coverage(verified, verified_unit, picked, picked_unit, called)


async def followups(session, status: str | None, page: int, per_page: int) -> tuple[list[tuple[Followup, Ticket]], int]:
    """pending (not yet called, oldest first: call them first) or done (newest call first); None: all."""
    conds = []
    order = [Followup.selected_at, Followup.id]
    if status == "pending":
        conds.append(Followup.called_at.is_(None))
    elif status == "done":
        conds.append(Followup.called_at.is_not(None))
        order = [Followup.called_at.desc(), Followup.id.desc()]
    total = (await session.execute(select(func.count(Followup.id)).where(*conds))).scalar_one()
    rows = (await session.execute(
        select(Followup, Ticket).join(Ticket, Ticket.id == Followup.ticket_id).where(*conds).order_by(*order)
        .offset((page - 1) * per_page).limit(per_page))).all()
    return [(f, t) for f, t in rows], total


async def followup_of(session, number: str) -> tuple[Followup | None, Ticket | None]:
    row = (await session.execute(select(Ticket, Followup).outerjoin(Followup, Followup.ticket_id == Ticket.id)
                                 .where(Ticket.number == number))).first()
    return (row[1], row[0]) if row else (None, None)


async def record_call(session, followup: Followup, ticket: Ticket, by: str, outcome: str, note: str,
                      now: datetime, *, channel: str = "api", actor: str = "") -> Followup:
    """The call made (reached or not): kept on the follow-up, one event on the ticket. A later call
    (after nobody answered) replaces the outcome; the events keep every attempt. `channel`/`actor`: where it
    was recorded (the REST API's "api:<by>" unless the caller knows better, e.g. the console's identity)."""
    followup.called_at, followup.called_by, followup.outcome, followup.note = now, by[:64], outcome, note
    session.add(TicketEvent(ticket_id=ticket.id, at=now, actor=(actor or f"api:{by}")[:128], channel=channel,
                            action="followup_called",
                            from_status=ticket.status, to_status=ticket.status,
                            details={"outcome": outcome, "note": note, "reason": followup.reason}))
    await session.flush()
    return followup
