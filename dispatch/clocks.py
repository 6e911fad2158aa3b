"""A ticket's SLA clocks (BR-9, BR-10): respond, arrive, finish — as the rule counts them and as the desk works them."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from dispatch.statuses import (
    ACCEPTED, CANCELLED, CLOSED, COMPLETED, DISPATCHED, ON_HOLD, ON_SITE, QUOTE_ACCEPTED, QUOTED, REJECTED, REWORK,
    SUBMITTED, VERIFIED,
)

KINDS = ("respond", "arrive", "finish")


@dataclass(frozen=True)
class Sla:
    """The `[sla]` figures in seconds; bot/settings.py `SlaSettings` has the same names and serves as well."""

    emergency_respond: int = 900      # BR-9, BR-33: dispatched and accepted within 15 min of the report
    emergency_finish: int = 7200      # BR-9: repaired within 2 h
    unit_arrive: int = 1200           # BR-10: inside a unit within 20 min
    daily_respond: int = 1200         # no rule: BR-10's arrival in 20 min needs a 接单 before it
    daily_finish: int = 86400
    public_arrive: int = 0            # no rule: off


SLA = Sla()


def limit_of(kind: str, category: str, area: str, sla: Any = SLA) -> int:
    """Seconds `kind` allows a ticket of this category and area; 0 when that clock does not apply.

    |         | emergency (紧急)                      | daily (日常)   | planned (计划) |
    | ------- | ------------------------------------ | ------------- | ------------- |
    | respond | emergency_respond 15 min (BR-9)      | daily_respond | —             |
    | arrive  | unit_arrive 20 min (BR-10), or public_arrive (0: none) by area | same | — |
    | finish  | emergency_finish 2 h (BR-9)          | daily_finish  | —             |

    Planned work (BR-5) comes from the property's own inspections: nobody is waiting, no clock runs.
    """
    if category not in ("emergency", "daily") or kind not in KINDS:
        return 0
    name = f"{area}_arrive" if kind == "arrive" else f"{category}_{kind}"
    return max(0, int(getattr(sla, name, 0) or 0))


# ---- what stops a clock, what pauses it ------------------------------------------------------------------------

RESPONDING = frozenset({SUBMITTED, DISPATCHED})              # nobody holds the job: 接单 is due
DONE = frozenset({COMPLETED, VERIFIED, CLOSED, CANCELLED})   # the work is over (or called off)
# Statuses only reached after a technician was on site: the arrive clock has stopped for good.
ARRIVED = frozenset({ON_SITE, QUOTED, QUOTE_ACCEPTED, REJECTED, ON_HOLD, COMPLETED, VERIFIED, REWORK})

# What the ticket waits for while the OPERATIONAL clock stands still, and which clocks each one pauses.
# The regulatory clock never pauses: the resident waits all the same.
PAUSES: dict[str, tuple[str, ...]] = {
    "hold": KINDS,                     # BR-18: parts, a maker or skill (held … resumed)
    "quote": KINDS,                    # BR-13: 同意/不同意 to a quote (quoted … quote_agreed/declined, waiver_approved)
    "visit": KINDS,                    # BR-12: 同意/不同意 to a new time (reschedule_proposed … visit_agreed/declined)
    # The agreed visit time still ahead: nobody can arrive, or finish, before the resident lets them in.
    "visit_time": ("arrive", "finish"),
}
VISIT_ANSWERS = frozenset({"visit_agreed", "visit_declined"})


def _running(kind: str, status: str, arrived: bool) -> bool:
    if status == CANCELLED:
        return False
    if kind == "respond":
        return status in RESPONDING    # a decline or a hand-back to the trade starts it again
    if kind == "arrive":
        return not arrived and status not in DONE
    return status not in DONE          # rework (BR-21) starts finish again


@dataclass(frozen=True)
class _Span:
    """A stretch of the ticket's life in which nothing changed."""

    start: datetime
    end: datetime
    status: str
    arrived: bool
    waits: frozenset[str]


def _spans(ticket: Any, now: datetime) -> list[_Span]:
    """The ticket's life from the report to `now`, cut at every audit event; the last span is the present
    (it may be empty). Read from the events' to_status, so a clock follows the audit trail exactly."""
    start = ticket.created_at
    status, arrived, proposal = SUBMITTED, False, False
    t, out = start, []

    def waits() -> frozenset[str]:
        found = {"quote"} if status == QUOTED else {"hold"} if status == ON_HOLD else set()
        return frozenset(found | ({"visit"} if proposal else set()))

    for e in sorted(ticket.events or (), key=lambda e: e.at):
        at = min(max(e.at, start), now)
        if at > t:
            out.append(_Span(t, at, status, arrived, waits()))
            t = at
        if e.to_status and e.to_status != status:
            status = e.to_status
            proposal = proposal and status == ACCEPTED    # a proposed time lives while the job is accepted
        arrived = arrived or status in ARRIVED or e.action == "arrived"
        if e.action == "reschedule_proposed":
            proposal = True
        elif e.action in VISIT_ANSWERS:
            proposal = False
    if ticket.status and ticket.status != status:
        # Changed in this unit of work, its event not yet in the loaded collection: it happened just now.
        out.append(_Span(t, now, status, arrived, waits()))
        t, status = now, ticket.status
        arrived = arrived or status in ARRIVED
        proposal = proposal and status == ACCEPTED
    out.append(_Span(t, max(t, now), status, arrived, waits()))
    return out


def _visit_wait(ticket: Any) -> tuple[datetime, datetime] | None:
    """From the moment a later visit time was agreed (at the report, or the last 同意 to a new time) until that
    time, or an earlier arrival. Only the ticket's current `visit_at` is known: an earlier agreed time that a
    改约 replaced is not."""
    visit_at = getattr(ticket, "visit_at", None)
    if visit_at is None:
        return None
    events = ticket.events or ()
    since = max([e.at for e in events if e.action == "visit_agreed"], default=ticket.created_at)
    arrivals = [e.at for e in events if e.at >= since and (e.action == "arrived" or e.to_status == ON_SITE)]
    until = min([visit_at, *arrivals])
    return (since, until) if until > since else None


# ---- the clocks --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class View:
    """One way of counting a clock."""

    due_at: datetime          # running: when it runs out (paused: if it resumed now, or when the visit comes)
    left: timedelta           # negative: overdue by that much; stopped: the margin it stopped with
    paused: bool
    breached: bool            # ran out (stopped: stopped after its due time)
    stopped_at: datetime | None = None
    paused_for: str = ""      # hold | quote | visit | visit_time while paused


@dataclass(frozen=True)
class Clock:
    kind: str                 # respond | arrive | finish
    limit: int                # seconds allowed
    started_at: datetime      # the report (BR-9: "of the report")
    operational: View         # stands still while the ticket waits for the resident or for parts
    regulatory: View          # never pauses

    @property
    def running(self) -> bool:
        return self.operational.stopped_at is None

    @property
    def used(self) -> float:
        """Share of the operational allowance spent: 0.5 at half time, over 1 once overdue (escalation steps)."""
        return 1 - self.operational.left.total_seconds() / self.limit


def _merge(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for s, e in sorted(i for i in intervals if i[1] > i[0]):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _length(intervals: list[tuple[datetime, datetime]]) -> timedelta:
    return sum((e - s for s, e in intervals), timedelta())


def _overlap(a: list[tuple[datetime, datetime]], b: list[tuple[datetime, datetime]]) -> timedelta:
    total = timedelta()
    for s1, e1 in a:
        for s2, e2 in b:
            if min(e1, e2) > max(s1, s2):
                total += min(e1, e2) - max(s1, s2)
    return total


def _clock(kind: str, limit: int, ticket: Any, spans: list[_Span], visit: tuple[datetime, datetime] | None,
           now: datetime) -> Clock:
    start = ticket.created_at
    allowed = timedelta(seconds=limit)
    running = _merge([(s.start, s.end) for s in spans if _running(kind, s.status, s.arrived)])
    paused = [(s.start, s.end) for s in spans if any(kind in PAUSES[w] for w in s.waits)]
    if visit and kind in PAUSES["visit_time"]:
        paused.append(visit)
    paused = _merge(paused)
    worked = _length(running) - _overlap(running, paused)

    last = spans[-1]
    stopped_at = None
    if not _running(kind, last.status, last.arrived):
        stopped_at = start
        for s in reversed(spans):
            if _running(kind, s.status, s.arrived):
                stopped_at = s.end
                break
    reasons = [] if stopped_at else [w for w in ("hold", "quote", "visit") if w in last.waits and kind in PAUSES[w]]
    if not stopped_at and visit and kind in PAUSES["visit_time"] and visit[0] <= now < visit[1]:
        reasons.append("visit_time")
    end = stopped_at or now
    left = allowed - worked
    resumes = visit[1] if reasons == ["visit_time"] else end     # the one pause whose end is already known
    operational = View(resumes + left, left, bool(reasons), left < timedelta(), stopped_at,
                       reasons[0] if reasons else "")
    due = start + allowed
    regulatory = View(due, due - end, False, end > due, stopped_at)
    return Clock(kind, limit, start, operational, regulatory)


def ticket_clocks(ticket: Any, now: datetime, sla: Any = SLA) -> dict[str, Clock]:
    """The clocks that apply to `ticket` (see `limit_of`), as of `now`, from its audit events."""
    limits = {k: limit_of(k, ticket.category, ticket.area, sla) for k in KINDS}
    if not any(limits.values()):
        return {}
    now = max(now, ticket.created_at)
    spans = _spans(ticket, now)
    visit = _visit_wait(ticket)
    return {k: _clock(k, limit, ticket, spans, visit, now) for k, limit in limits.items() if limit}


# ---- as the API and the job card show them ---------------------------------------------------------------------

def _seconds(delta: timedelta) -> int:
    return math.floor(delta.total_seconds())


def _view_json(v: View, tz: tzinfo | None) -> dict[str, Any]:
    out: dict[str, Any] = {"due_at": v.due_at.astimezone(tz).isoformat(), "left_seconds": _seconds(v.left),
                           "paused": v.paused, "breached": v.breached}
    if v.stopped_at is not None:
        out["stopped_at"] = v.stopped_at.astimezone(tz).isoformat()
    if v.paused_for:
        out["paused_for"] = v.paused_for
    return out


def clocks_json(ticket: Any, now: datetime, sla: Any = SLA, tz: tzinfo | None = None) -> dict[str, Any]:
    """contract.md `clocks`: `{"respond"|"arrive"|"finish": {"due_at", "left_seconds", "paused", "breached",
    "stopped_at"?, "paused_for"?, "limit_seconds", "regulatory": {the same, never paused}}}`; the operational
    view at the top. A clock that does not apply to the ticket's kind is absent."""
    return {k: {**_view_json(c.operational, tz), "limit_seconds": c.limit, "regulatory": _view_json(c.regulatory, tz)}
            for k, c in ticket_clocks(ticket, now, sla).items()}


def card_clock(ticket: Any, now: datetime, sla: Any = SLA) -> Clock | None:
    """The clock the job card shows: of those still running, the one with least time left."""
    running = [c for c in ticket_clocks(ticket, now, sla).values() if c.running]
    return min(running, key=lambda c: c.operational.left, default=None)


def clock_line(ticket: Any, now: datetime, texts: Any, sla: Any = SLA) -> str:
    """One line for the job card (templates/cards/clock.j2): 「剩余 12 分钟到场」, 「到场已超时 5 分钟」; "" when no
    clock runs."""
    clock = card_clock(ticket, now, sla)
    if clock is None:
        return ""
    v = clock.operational
    minutes = math.ceil(abs(v.left.total_seconds()) / 60)
    days, rest = divmod(minutes, 1440)
    return texts.render("cards/clock.j2", kind=clock.kind, breached=v.breached, paused_for=v.paused_for,
                        days=days, hours=rest // 60, minutes=rest % 60,
                        regulatory_breached=clock.regulatory.breached)
