"""Digests (BR-22, BR-28, BR-30): completed today, unfinished with reasons, the shift handover, the weekly summary.

Each digest has a period key (`completed:2026-11-30`, `unfinished:2026-11-30`, `handover:2026-11-27T18:00`,
`weekly:2026-W49`). A sweep (bot/runtime.py: the background loop and `run_pending`, so `POST /sim/api/clock`
too) inserts a `digest_runs` row under that key and the digest's outbox rows in ONE transaction: a second
process, or a second sweep, hits the unique key, rolls nothing forward and sends nothing.

Catch-up rule: a sweep only looks at the digests of the present — today's 17:30 and 17:40 lists once their
time has come, the weekly summary on its day once its time has come, and the handover of the shift that holds
the desk now. So a digest whose time passed while no process ran is sent once when a process comes back the
same day (the same shift, for a handover), with the figures as they are then; a day missed entirely is not
sent late. Nothing due before the very first sweep on a database (the `epoch` row) is sent: a new installation
does not open with a digest of a moment it never saw.

The digest's content is computed when it is sent and stored in the outbox row's `vars` (templates/digests/):
it reports the moment, as a paper report would.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import outbox
from dispatch.clocks import SLA, card_clock
from dispatch.duty import Duty, desk_now
from dispatch.reports import current_period, period_of, report
from dispatch.routing import CARD_PLATFORMS, staff_with_roles
from dispatch.statuses import CLOSED, COMPLETED, OPEN, VERIFIED
from store.db import dialect_name
from store.models import DigestRun, Person, Ticket

KINDS = ("completed", "unfinished", "handover", "weekly")
DONE = (COMPLETED, VERIFIED, CLOSED)
LISTED = 50            # tickets named in one message; the rest are counted ("…and 12 more")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEKLY_ROLES = ("director", "manager")     # BR-28: sent to the property director and managers
EPOCH = "epoch"

RUNS = DigestRun.__table__
CLAIM = {name: insert(RUNS).on_conflict_do_nothing(index_elements=["period"]).returning(RUNS.c.id)
         for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))}
_TIME = re.compile(r"\s*([01]\d|2[0-3]):([0-5]\d)\s*")


def parse_time(value: str) -> time:
    """"17:30" → 17:30; ValueError naming the expected form."""
    m = _TIME.fullmatch(value or "")
    if not m:
        raise ValueError(f"{value!r} is not a time as HH:MM (e.g. 17:30)")
    return time(int(m.group(1)), int(m.group(2)))


def parse_weekly(value: str) -> tuple[int, time]:
    """"Mon 09:00" → (0, 09:00); ValueError naming the expected form."""
    day, _, at = (value or "").strip().partition(" ")
    if day[:3].title() not in WEEKDAYS or len(day) != 3:
        raise ValueError(f"{value!r} is not a weekday and a time as 'Mon 09:00' (days: {' '.join(WEEKDAYS)})")
    return WEEKDAYS.index(day.title()), parse_time(at)


@dataclass(frozen=True)
class Schedule:
    """`[digests]` as the domain uses it."""

    completed: time = time(17, 30)     # BR-22
    unfinished: time = time(17, 40)    # BR-22
    weekly_day: int = 0                # BR-28: Monday
    weekly_at: time = time(9)
    handover: bool = True              # BR-30

    @classmethod
    def of(cls, completed: str = "17:30", unfinished: str = "17:40", weekly: str = "Mon 09:00",
           handover: bool = True) -> Schedule:
        day, at = parse_weekly(weekly)
        return cls(parse_time(completed), parse_time(unfinished), day, at, handover)


@dataclass(frozen=True)
class Due:
    kind: str          # one of KINDS
    period: str        # the digest_runs key
    due_at: datetime   # UTC


def _at(d: date, t: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(d, t, tzinfo=tz).astimezone(timezone.utc)


def due_digests(now: datetime, schedule: Schedule, tz: ZoneInfo, shift_began: datetime | None) -> list[Due]:
    """The digests of the present whose time has come (the catch-up rule: see the module's docstring)."""
    today = now.astimezone(tz).date()
    out = []
    for kind, at in (("completed", schedule.completed), ("unfinished", schedule.unfinished)):
        if now >= (due := _at(today, at, tz)):
            out.append(Due(kind, f"{kind}:{today.isoformat()}", due))
    if schedule.handover and shift_began is not None:
        out.append(Due("handover", f"handover:{shift_began.astimezone(tz).strftime('%Y-%m-%dT%H:%M')}", shift_began))
    if today.weekday() == schedule.weekly_day and now >= (due := _at(today, schedule.weekly_at, tz)):
        year, week, _ = today.isocalendar()
        out.append(Due("weekly", f"weekly:{year:04d}-W{week:02d}", due))
    return sorted(out, key=lambda d: d.due_at)


@dataclass(frozen=True)
class Audience:
    """Where digests go: the supervisors' group chats (`[alerts]`) on the platforms this process can send on."""

    groups: tuple[tuple[str, str], ...] = ()     # (channel, chat id)
    channels: frozenset[str] = frozenset()


def shift_start(now: datetime, duty: Duty) -> datetime:
    """When the shift holding the desk at `now` began: the last start or end of the day hours at or before it
    (dispatch/duty.py `next_change` is the next one)."""
    tz = ZoneInfo(duty.tz)
    today = now.astimezone(tz).date()
    changes = [_at(today - timedelta(days=1), duty.day_end, tz), _at(today, duty.day_start, tz),
               _at(today, duty.day_end, tz)]
    return max(c for c in changes if c <= now)


async def run_digests(sessions, now: datetime, *, schedule: Schedule, duty: Duty, audience: Audience,
                      sla: Any = SLA) -> list[str]:
    """Send every digest that is due and not yet sent, each in its own transaction; the period keys sent.

    One SELECT when there is nothing to send (the steady state of a sweep every 30 s)."""
    tz = ZoneInfo(duty.tz)
    candidates = due_digests(now, schedule, tz, shift_start(now, duty) if schedule.handover else None)
    async with sessions() as session:
        done = dict((await session.execute(select(RUNS.c.period, RUNS.c.created_at).where(
            RUNS.c.period.in_([EPOCH, *(d.period for d in candidates)])))).all())
    if EPOCH not in done:
        async with sessions() as session, session.begin():
            await session.execute(CLAIM[dialect_name(session)], dict(kind=EPOCH, period=EPOCH, created_at=now))
            done[EPOCH] = (await session.execute(select(RUNS.c.created_at).where(RUNS.c.period == EPOCH))).scalar_one()
    epoch = done[EPOCH]
    sent = []
    for due in candidates:
        if due.period in done or due.due_at < epoch:
            continue
        async with sessions() as session, session.begin():
            claimed = (await session.execute(CLAIM[dialect_name(session)], dict(
                kind=due.kind, period=due.period, created_at=now))).scalar_one_or_none()
            if claimed is None:     # sent meanwhile by another process
                continue
            await BUILD[due.kind](session, due, now, tz, duty, audience, sla)
        sent.append(due.period)
    return sent


# ---- who hears ---------------------------------------------------------------------------------------------

def reach(person: Person, channels: frozenset[str]) -> tuple[str, str] | None:
    """(channel, user id) of a member of staff's first account we can send to, 1:1 platforms first."""
    order = {p: i for i, p in enumerate(CARD_PLATFORMS)}
    for ident in sorted(person.identities, key=lambda i: order.get(i.platform, len(order))):
        if ident.platform in channels:
            return ident.platform, ident.external_id
    return None


async def _send(session: AsyncSession, due: Due, now: datetime, audience: Audience, template: str,
                vars: dict[str, Any], people: list[Person] = ()) -> None:
    payload = {"template": template, "vars": vars}
    rows = [dict(key=f"digest:{due.period}:{channel}:chat:{chat}", channel=channel, chat=chat, payload=payload)
            for channel, chat in audience.groups if channel in audience.channels]
    seen = set()
    for person in people:
        if (to := reach(person, audience.channels)) and to not in seen:
            seen.add(to)
            rows.append(dict(key=f"digest:{due.period}:{to[0]}:user:{to[1]}", channel=to[0], user=to[1],
                             payload=payload))
    await outbox.enqueue_many(session, rows, kind=outbox.TEXT, now=now)


# ---- what each says ----------------------------------------------------------------------------------------

def _local(value: datetime | None, tz: ZoneInfo, fmt: str = "%H:%M") -> str:
    return value.astimezone(tz).strftime(fmt) if value else ""


def _line(t: Ticket, now: datetime, tz: ZoneInfo, sla: Any) -> dict[str, Any]:
    """One open ticket as a digest lists it: its state, why it waits, who holds it, the clock that runs out first."""
    out: dict[str, Any] = {"number": t.number, "status": t.status, "trade": t.trade, "category": t.category,
                           "location": t.location, "hold_reason": t.hold_reason or "", "awaiting": t.awaiting or "",
                           "owner": t.assignee.name if t.assignee else "", "clock": None}
    if (clock := card_clock(t, now, sla)) is not None:
        v = clock.operational
        minutes = -(-int(abs(v.left.total_seconds())) // 60)
        days, rest = divmod(minutes, 1440)
        out["clock"] = {"kind": clock.kind, "breached": v.breached, "paused_for": v.paused_for, "days": days,
                        "hours": rest // 60, "minutes": rest % 60, "regulatory_breached": clock.regulatory.breached,
                        "left_seconds": int(v.left.total_seconds())}
    return out


async def open_tickets(session: AsyncSession, now: datetime, tz: ZoneInfo, sla: Any) -> tuple[int, list[dict]]:
    """How many tickets are still open, and the first `LISTED` of them, most urgent first."""
    where = (Ticket.status.in_(sorted(OPEN)), Ticket.created_at <= now)
    total = (await session.execute(select(func.count()).select_from(Ticket).where(*where))).scalar_one()
    # Emergencies first (BR-5), then the oldest: what a supervisor must look at before anything else.
    rows = (await session.execute(select(Ticket).where(*where).order_by(
        (Ticket.category != "emergency"), Ticket.created_at, Ticket.id).limit(LISTED))).scalars().all()
    lines = [_line(t, now, tz, sla) for t in rows]
    return total, lines


async def _completed(session: AsyncSession, due: Due, now: datetime, tz: ZoneInfo, duty: Duty,
                     audience: Audience, sla: Any) -> None:
    """BR-22: the tickets whose work was completed today (those completed, verified or closed since)."""
    day = now.astimezone(tz).date()
    where = (Ticket.status.in_(DONE), Ticket.completed_at >= _at(day, time(0), tz), Ticket.completed_at <= now)
    total = (await session.execute(select(func.count()).select_from(Ticket).where(*where))).scalar_one()
    rows = (await session.execute(select(Ticket).where(*where).order_by(Ticket.completed_at, Ticket.id)
                                  .limit(LISTED))).scalars().all()
    tickets = [{"number": t.number, "trade": t.trade, "location": t.location, "status": t.status,
                "owner": t.assignee.name if t.assignee else "", "at": _local(t.completed_at, tz)} for t in rows]
    await _send(session, due, now, audience, "digests/completed.j2",
                {"day": day.strftime("%m-%d"), "total": total, "tickets": tickets, "more": total - len(tickets)})


async def _unfinished(session: AsyncSession, due: Due, now: datetime, tz: ZoneInfo, duty: Duty,
                      audience: Audience, sla: Any) -> None:
    """BR-22: every ticket still open, with why (status, hold reason, what the resident is asked), its owner and
    the time left on its most pressing clock."""
    total, tickets = await open_tickets(session, now, tz, sla)
    await _send(session, due, now, audience, "digests/unfinished.j2",
                {"day": now.astimezone(tz).strftime("%m-%d"), "total": total, "tickets": tickets,
                 "more": total - len(tickets)})


async def _handover(session: AsyncSession, due: Due, now: datetime, tz: ZoneInfo, duty: Duty,
                    audience: Audience, sla: Any) -> None:
    """BR-30: at a desk change, the open tickets, their time left and owner, to the incoming and the outgoing
    desk (1:1) and the alerts group."""
    incoming = await desk_now(session, due.due_at, duty)
    outgoing = await desk_now(session, due.due_at - timedelta(seconds=1), duty)
    total, tickets = await open_tickets(session, now, tz, sla)
    await _send(session, due, now, audience, "digests/handover.j2",
                {"from_role": outgoing.role, "to_role": incoming.role, "at": _local(due.due_at, tz, "%m-%d %H:%M"),
                 "until": _local(incoming.ends_at, tz, "%m-%d %H:%M"),
                 "to_names": [p.name for p in incoming.people], "total": total, "tickets": tickets,
                 "more": total - len(tickets)},
                people=[*incoming.people, *outgoing.people])


async def _weekly(session: AsyncSession, due: Due, now: datetime, tz: ZoneInfo, duty: Duty,
                  audience: Audience, sla: Any) -> None:
    """BR-28: last week's tickets issued, completed, unfinished, their ratios and the reasons for the unfinished
    (dispatch/reports.py, as `GET /api/v1/reports/weekly` answers), to the alerts group, directors and managers."""
    this_week = current_period("weekly", now, tz)
    year, week, _ = (this_week.start - timedelta(days=1)).isocalendar()
    period = period_of("weekly", f"{year:04d}-W{week:02d}", tz)
    figures = await report(session, period, now, sla=sla, tz=tz)
    totals = figures["totals"]
    await _send(session, due, now, audience, "digests/weekly.j2",
                {"period": period.label, "start": period.start.strftime("%m-%d"),
                 "end": (period.end - timedelta(days=1)).strftime("%m-%d"),
                 **{k: totals[k] for k in ("issued", "completed", "unfinished", "cancelled", "completion_rate",
                                            "unfinished_rate")},
                 "reasons": figures["unfinished_reasons"][:5]},
                people=await staff_with_roles(session, WEEKLY_ROLES))


BUILD = {"completed": _completed, "unfinished": _unfinished, "handover": _handover, "weekly": _weekly}
