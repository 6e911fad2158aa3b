"""Weekly, monthly and finance reports (BR-28, BR-29): SQL aggregates over the tickets reported in a period.

A ticket belongs to the one period its report (`created_at`, in the service's time zone) falls in: periods
are half-open [start, end), so consecutive periods share no ticket and a ticket on a boundary is counted
once. Its figures are its state as of the request (`now`): last month's report still changes while last
month's tickets are being finished.

Cost: two passes over the period's rows (counters grouped by trade and technician, added up here; then the
90th percentiles, on PostgreSQL with `percentile_disc` over GROUPING SETS), an index range for the unfinished
reasons and, for finance, the approved waivers. No ticket is loaded as an object. The period is a range of
created_at: with an index on it (bench/console.py --proposed-indexes) only the period's pages are read.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, and_, case, func, literal, null, or_, select, tuple_, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.clocks import KINDS as CLOCKS, SLA, limit_of
from dispatch.statuses import (
    AREAS, CANCELLED, CATEGORIES, CLOSED, COMPLETED, ON_HOLD, VERIFIED,
)
from store.db import dialect_name
from store.models import Person, Ticket, UtcDateTime

KINDS = ("weekly", "monthly", "finance")
DONE = (COMPLETED, VERIFIED, CLOSED)          # the work is finished (a rework is not: BR-21 sends it back)
SURVEYED = (VERIFIED, CLOSED)                 # BR-26: the survey goes out once the work is accepted
SCORES = ("quality", "service", "communication")
FINANCE_CUTOFF = 21                           # BR-29: the 21st of the previous month to the 20th of this one

T = Ticket.__table__


# ---- periods ---------------------------------------------------------------------------------------------------

class BadPeriod(ValueError):
    """`?period=` that names no period of this kind."""


@dataclass(frozen=True)
class Period:
    kind: str          # weekly | monthly | finance
    label: str         # 2026-W48 | 2026-11
    start: datetime    # local midnight, included
    end: datetime      # local midnight, excluded

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "period": self.label, "start": self.start.isoformat(),
                "end": self.end.isoformat()}


_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


def _midnight(d: date, tz: tzinfo) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=tz)


def _month_start(year: int, month: int) -> date:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return date(year, month, 1)


def period_of(kind: str, label: str, tz: tzinfo) -> Period:
    """The period `label` names: weekly `2026-W48` (ISO week, Monday to Monday), monthly `2026-11` (the 1st to
    the 1st), finance `2026-11` (BR-29: 2026-10-21 00:00 to 2026-11-21 00:00, i.e. to the 20th 24:00)."""
    if kind not in KINDS:
        raise BadPeriod(kind)
    m = (_WEEK if kind == "weekly" else _MONTH).fullmatch(label or "")
    if not m:
        raise BadPeriod(label)
    year, n = int(m.group(1)), int(m.group(2))
    if not 1971 <= year <= 9998:       # a year either side stays representable in every zone
        raise BadPeriod(label)
    try:
        if kind == "weekly":
            first = date.fromisocalendar(year, n, 1)      # ValueError: week 53 of a 52-week year, week 0
            last = first + timedelta(days=7)
        elif not 1 <= n <= 12:
            raise BadPeriod(label)
        elif kind == "monthly":
            first, last = _month_start(year, n), _month_start(year, n + 1)
        else:
            first = _month_start(year, n - 1).replace(day=FINANCE_CUTOFF)
            last = _month_start(year, n).replace(day=FINANCE_CUTOFF)
    except ValueError:
        raise BadPeriod(label) from None
    return Period(kind, f"{year:04d}-W{n:02d}" if kind == "weekly" else f"{year:04d}-{n:02d}",
                  _midnight(first, tz), _midnight(last, tz))


def current_period(kind: str, now: datetime, tz: tzinfo) -> Period:
    """The period `now` falls in (the default when `?period=` is absent)."""
    today = now.astimezone(tz).date()
    if kind == "weekly":
        year, week, _ = today.isocalendar()
        return period_of(kind, f"{year:04d}-W{week:02d}", tz)
    month = _month_start(today.year, today.month + (1 if kind == "finance" and today.day >= FINANCE_CUTOFF else 0))
    return period_of(kind, f"{month.year:04d}-{month.month:02d}", tz)


async def one_snapshot(session: AsyncSession) -> None:
    """Call first in a session that reads a report and then its registers: on PostgreSQL every statement of the
    transaction then sees the same data (REPEATABLE READ), so the workbook's totals and rows agree even while
    tickets change. SQLite's transaction is one snapshot already."""
    if dialect_name(session) == "postgresql":
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def in_period(period: Period):
    """The WHERE clause of a period: an index range on created_at."""
    return and_(T.c.created_at >= period.start.astimezone(timezone.utc),
                T.c.created_at < period.end.astimezone(timezone.utc))


# ---- per-ticket expressions ------------------------------------------------------------------------------------

def _seconds(dialect: str, later, earlier):
    """Seconds from `earlier` to `later`; NULL if either is."""
    if dialect == "postgresql":
        # date_part is double precision; EXTRACT is numeric since PostgreSQL 14, several times slower to add up.
        return func.date_part("epoch", later - earlier)
    # SQLite keeps times as text; julianday reads them to the millisecond.
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _stamps():
    """When each clock stopped, from the ticket's own columns (the regulatory view: from the report, never
    paused; dispatch/clocks.py). A later step implies the earlier one happened by then; a finish counts only
    while the work stays finished (a rework reopens it)."""
    return {
        "respond": func.coalesce(T.c.accepted_at, T.c.arrived_at, T.c.completed_at),
        "arrive": func.coalesce(T.c.arrived_at, T.c.completed_at),
        "finish": case((T.c.status.in_(DONE), T.c.completed_at), else_=null()),
    }


def _limit(kind: str, sla: Any):
    """The seconds `kind` allows this ticket (by category and area, `dispatch.clocks.limit_of`); NULL: none."""
    whens = [(and_(T.c.category == c, T.c.area == a), limit)
             for c in CATEGORIES for a in AREAS if (limit := limit_of(kind, c, a, sla))]
    return case(*whens, else_=null()) if whens else null()


def _durations(dialect: str) -> dict[str, Any]:
    return {k: _seconds(dialect, stamp, T.c.created_at) for k, stamp in _stamps().items()}


def _when(cond, value=1):
    return case((cond, value), else_=0)


def _additive(dialect: str, now: datetime, sla: Any) -> list:
    """Counts and sums that add up across groups. Written straight over the table (no subquery), so
    PostgreSQL can aggregate in parallel workers."""
    elapsed = _seconds(dialect, literal(now, UtcDateTime()), T.c.created_at)
    cols = [
        func.count().label("issued"),
        func.sum(_when(T.c.status.in_(DONE))).label("completed"),
        func.sum(_when(T.c.status == CANCELLED)).label("cancelled"),
    ]
    for kind, dur in _durations(dialect).items():
        limit = _limit(kind, sla)
        cols += [
            func.count(dur).label(f"{kind}_n"),
            func.sum(dur).label(f"{kind}_sum"),
            func.sum(_when(and_(limit.is_not(None), dur <= limit))).label(f"{kind}_met"),
            # Overdue: stopped late, or still running (not cancelled) past its limit as of now.
            func.sum(_when(and_(limit.is_not(None), or_(
                dur > limit, and_(dur.is_(None), T.c.status != CANCELLED, elapsed > limit))))).label(f"{kind}_breached"),
        ]
    cols += [
        func.sum(_when(T.c.status.in_(SURVEYED))).label("surveyed"),
        func.count(T.c.rating).label("answered"),
        func.sum(T.c.rating).label("overall_sum"),
    ]
    for key in SCORES:
        # Only an answered survey holds scores: the JSON text of the others is not parsed at all.
        score = case((T.c.rating.is_not(None), T.c.survey[key].as_integer()), else_=null())
        cols += [func.count(score).label(f"{key}_n"), func.sum(score).label(f"{key}_sum")]
    cols += [
        func.sum(_when(and_(T.c.warranty_of.is_not(None), T.c.warranty_of != ""))).label("warranty"),
        func.sum(_when(T.c.quote_status == "agreed")).label("paid_n"),
        type_coerce(func.sum(case((T.c.quote_status == "agreed", T.c.fee), else_=null())),
                    Numeric(14, 2)).label("paid_sum"),
    ]
    return cols


_ADDITIVE_KEYS = ("issued", "completed", "cancelled", *(f"{k}_{s}" for k in CLOCKS for s in ("n", "sum", "met", "breached")),
                  "surveyed", "answered", "overall_sum", *(f"{k}_{s}" for k in SCORES for s in ("n", "sum")),
                  "warranty", "paid_n", "paid_sum")

Group = tuple[str, Any]     # ("all", None) | ("trade", "plumbing") | ("technician", person id or None)


def _zero() -> dict[str, Any]:
    return {k: (Decimal("0") if k == "paid_sum" else 0) for k in _ADDITIVE_KEYS}


async def _groups(session: AsyncSession, period: Period, now: datetime, sla: Any
                  ) -> dict[Group, tuple[dict[str, Any], dict[str, float | None]]]:
    """Every group's added-up counters and its clocks' 90th percentiles.

    The counters: one pass grouped by (trade, technician), added up here into the totals, each trade and each
    technician. The percentiles do not add up: PostgreSQL computes them in a second pass with `percentile_disc`
    over GROUPING SETS ((), (trade), (assignee_id)); SQLite (the embedded, small-estate backend) has no
    ordered-set aggregate, so the durations come here."""
    dialect = dialect_name(session)
    counters: dict[Group, dict[str, Any]] = defaultdict(_zero)
    counters[("all", None)]   # an empty period still has its totals
    stmt = (select(T.c.trade, T.c.assignee_id, *_additive(dialect, now, sla))
            .where(in_period(period)).group_by(T.c.trade, T.c.assignee_id))
    for row in await session.execute(stmt):
        for key in (("all", None), ("trade", row.trade), ("technician", row.assignee_id)):
            acc = counters[key]
            for k in _ADDITIVE_KEYS:
                v = getattr(row, k)
                if v is not None:
                    acc[k] += Decimal(v) if k == "paid_sum" else v

    durations = _durations(dialect)
    p90: dict[Group, dict[str, float | None]] = defaultdict(dict)
    if dialect == "postgresql":
        stmt = (select(func.grouping(T.c.trade).label("g_trade"), func.grouping(T.c.assignee_id).label("g_tech"),
                       T.c.trade, T.c.assignee_id,
                       *(func.percentile_disc(0.9).within_group(d).label(k) for k, d in durations.items()))
                .where(in_period(period))
                .group_by(func.grouping_sets(tuple_(), tuple_(T.c.trade), tuple_(T.c.assignee_id))))
        for r in (await session.execute(stmt)).all():
            key = ("all", None) if r.g_trade and r.g_tech else ("trade", r.trade) if r.g_tech \
                else ("technician", r.assignee_id)
            p90[key] = {k: getattr(r, k) for k in durations}
    else:
        lists: dict[Group, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        stmt = select(T.c.trade, T.c.assignee_id, *(d.label(k) for k, d in durations.items())).where(in_period(period))
        for r in await session.execute(stmt):
            for k in durations:
                v = getattr(r, k)
                if v is not None:
                    for key in (("all", None), ("trade", r.trade), ("technician", r.assignee_id)):
                        lists[key][k].append(round(v, 3))
        for key, by_kind in lists.items():
            p90[key] = {k: percentile(v) for k, v in by_kind.items()}
    return {key: (acc, p90[key]) for key, acc in counters.items()}


# ---- figures ---------------------------------------------------------------------------------------------------

def _ratio(part: float, whole: float, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


def _figures(acc: dict[str, Any], p90: dict[str, float | None]) -> dict[str, Any]:
    """A group's figures from its added-up counters and its percentiles."""
    issued, completed, cancelled = acc["issued"], acc["completed"], acc["cancelled"]
    unfinished = issued - completed - cancelled
    times, sla = {}, {}
    for k in CLOCKS:
        n = acc[f"{k}_n"]
        times[k] = {"count": n, "mean_seconds": round(float(acc[f"{k}_sum"]) / n, 1) if n else None,
                    "p90_seconds": None if p90.get(k) is None else round(float(p90[k]), 1)}
        met, breached = acc[f"{k}_met"], acc[f"{k}_breached"]
        sla[k] = {"met": met, "breached": breached, "compliance": _ratio(met, met + breached)}
    survey = {"surveyed": acc["surveyed"], "answered": acc["answered"],
              "response_rate": _ratio(acc["answered"], acc["surveyed"]),
              "overall": _ratio(float(acc["overall_sum"]), acc["answered"], 2)}
    for key in SCORES:
        survey[key] = _ratio(float(acc[f"{key}_sum"]), acc[f"{key}_n"], 2)
    return {
        "issued": issued, "completed": completed, "unfinished": unfinished, "cancelled": cancelled,
        "completion_rate": _ratio(completed, issued), "unfinished_rate": _ratio(unfinished, issued),
        "cancelled_rate": _ratio(cancelled, issued),
        "times": times, "sla": sla, "survey": survey,
        "warranty": {"rework": acc["warranty"], "rate": _ratio(acc["warranty"], completed)},
    }


def percentile(values: list[float], p: float = 90) -> float | None:
    """Nearest rank, as PostgreSQL's percentile_disc: the smallest value with p % of them at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * p / 100)) - 1]


async def _reasons(session: AsyncSession, period: Period) -> list[dict[str, Any]]:
    """Why the unfinished ones are not done: a hold's reason (BR-18), else the status they wait in."""
    from dispatch.statuses import ALL

    open_ = [s for s in ALL if s not in DONE and s != CANCELLED]
    reason = case((T.c.status == ON_HOLD, T.c.hold_reason), else_="")
    stmt = (select(T.c.status, reason.label("reason"), func.count().label("n"))
            .where(in_period(period), T.c.status.in_(open_)).group_by(T.c.status, reason))
    rows = [{"status": r.status, "reason": r.reason or r.status, "count": r.n} for r in await session.execute(stmt)]
    return sorted(rows, key=lambda r: (-r["count"], ALL.index(r["status"]), r["reason"]))


def _money(value: Any) -> str:
    return str(Decimal(value or 0).quantize(Decimal("0.01")))


async def _finance(session: AsyncSession, period: Period, by_trade: dict[str, dict[str, Any]],
                   total: dict[str, Any], tz: tzinfo) -> dict[str, Any]:
    """BR-29: paid fees (an agreed quote's fee) and approved waivers (签免, BR-15/16) of the period."""
    w = T.c.waiver
    stmt = (select(T.c.number, T.c.trade, T.c.area, T.c.created_at, w)
            .where(in_period(period), w["status"].as_string() == "approved").order_by(T.c.created_at, T.c.id))
    items, by_payer = [], defaultdict(lambda: [0, Decimal("0")])
    for r in await session.execute(stmt):
        waiver = r.waiver or {}
        try:
            amount = Decimal(str(waiver.get("amount") or 0))
        except ArithmeticError:
            amount = Decimal("0")
        payer = waiver.get("payer") or "property"
        by_payer[payer][0] += 1
        by_payer[payer][1] += amount
        items.append({"number": r.number, "trade": r.trade, "area": r.area,
                      "created_at": r.created_at.astimezone(tz).isoformat(), "amount": _money(amount), "payer": payer,
                      "reason": waiver.get("reason", ""), "approver": waiver.get("approver", ""),
                      "decided_by": waiver.get("decided_by", ""), "decided_at": waiver.get("decided_at", "")})
    return {
        "paid": {"count": total["paid_n"], "total": _money(total["paid_sum"]),
                 "by_trade": [{"trade": t, "count": acc["paid_n"], "total": _money(acc["paid_sum"])}
                              for t, acc in by_trade.items() if acc["paid_n"]]},
        "waivers": {"count": len(items), "total": _money(sum((a[1] for a in by_payer.values()), Decimal("0"))),
                    "by_payer": [{"payer": p, "count": n, "total": _money(s)} for p, (n, s) in sorted(by_payer.items())],
                    "items": items},
    }


async def report(session: AsyncSession, period: Period, now: datetime, *, sla: Any = SLA,
                 tz: tzinfo | None = None) -> dict[str, Any]:
    """The report of `period` as `GET /api/v1/reports/{kind}` answers it (contract: README "Reports")."""
    from dispatch.statuses import TRADES

    tz = tz or period.start.tzinfo
    groups = await _groups(session, period, now, sla)
    ids = [k for (g, k) in groups if g == "technician" and k is not None]
    names = dict((await session.execute(select(Person.id, Person.name).where(Person.id.in_(ids)))).all()) if ids else {}
    total = groups[("all", None)]
    by_trade = {k: v for (g, k), v in groups.items() if g == "trade"}
    by_tech = {k: v for (g, k), v in groups.items() if g == "technician"}

    def trade_order(t: str) -> tuple[int, str]:
        return (TRADES.index(t) if t in TRADES else len(TRADES), t)

    out: dict[str, Any] = {
        **period.as_json(), "timezone": str(tz), "as_of": now.astimezone(tz).isoformat(),
        "sla_seconds": {k: {f"{c}_{a}": limit_of(k, c, a, sla) for c in CATEGORIES for a in AREAS
                            if limit_of(k, c, a, sla)} for k in CLOCKS},
        "totals": _figures(*total),
        "unfinished_reasons": await _reasons(session, period),
        "by_trade": [{"trade": t, **_figures(*by_trade[t])} for t in sorted(by_trade, key=trade_order)],
        "by_technician": [{"person_id": i, "name": names.get(i) if i is not None else None, **_figures(*by_tech[i])}
                          for i in sorted(by_tech, key=lambda i: (i is None, names.get(i, ""), i or 0))],
    }
    if period.kind == "finance":
        out["finance"] = await _finance(session, period, {t: acc for t, (acc, _) in by_trade.items()}, total[0], tz)
    return out
