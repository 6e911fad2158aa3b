"""The ticket list's filters, from the page's query string to dispatch.tickets.TicketFilter and back."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Mapping

from bot.console.roles import sees_all
from bot.console.staff import User
from dispatch.statuses import ALL, AREAS, CATEGORIES, TRADES
from dispatch.tickets import TicketFilter

MAX_TEXT = 64
MAX_PAGE = 10_000


@dataclass(frozen=True)
class Query:
    """The filters as the form shows them (every value a string; "" not filtering)."""

    status: str = ""
    trade: str = ""
    area: str = ""
    category: str = ""
    assignee: str = ""       # a person id, "none" (nobody yet), or ""
    since: str = ""          # YYYY-MM-DD, the first day shown
    until: str = ""          # YYYY-MM-DD, the last day shown
    q: str = ""
    overdue: str = ""        # "1": only tickets a clock has run out on
    page: int = 1
    problems: tuple[str, ...] = field(default_factory=tuple)   # fields that could not be read (ignored)

    def link(self, **changes: str | int) -> str:
        """This list's URL with some filters changed (a status count, the next page)."""
        from urllib.parse import urlencode
        values = {k: getattr(self, k) for k in ("status", "trade", "area", "category", "assignee", "since",
                                                 "until", "q", "overdue", "page")}
        values.update(changes)
        if "page" not in changes:
            values["page"] = 1
        return "/admin/tickets?" + urlencode({k: v for k, v in values.items() if v not in ("", None, 1)})


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def parse(query: Mapping[str, str]) -> Query:
    problems = []

    def pick(name: str, allowed) -> str:
        value = query.get(name, "")
        if value and value not in allowed:
            problems.append(name)
            return ""
        return value

    assignee = query.get("assignee", "")
    if assignee and assignee != "none" and not (assignee.isdigit() and len(assignee) < 19):
        problems.append("assignee")
        assignee = ""
    since, until = query.get("since", ""), query.get("until", "")
    for name, value in (("since", since), ("until", until)):
        if value and _day(value) is None:
            problems.append(name)
    try:
        number = int(query.get("page", "1") or "1")
    except ValueError:
        number = 1
    return Query(status=pick("status", ALL), trade=pick("trade", TRADES), area=pick("area", AREAS),
                 category=pick("category", CATEGORIES), assignee=assignee,
                 since=since if _day(since) else "", until=until if _day(until) else "",
                 q=query.get("q", "").strip()[:MAX_TEXT], overdue="1" if query.get("overdue") == "1" else "",
                 page=min(max(number, 1), MAX_PAGE), problems=tuple(problems))


def ticket_filter(q: Query, user: User, now: datetime, tz, sla) -> TicketFilter:
    """The domain's filter; a technician's list is only ever their own jobs, whatever the query says."""
    since, until = _day(q.since), _day(q.until)
    assignee_id = int(q.assignee) if q.assignee.isdigit() else None
    if not sees_all(user):
        assignee_id = user.id
    return TicketFilter(
        status=q.status or None, trade=q.trade or None, area=q.area or None, category=q.category or None,
        since=datetime.combine(since, time(), tz) if since else None,
        until=datetime.combine(until + timedelta(days=1), time(), tz) if until else None,
        assignee_id=assignee_id, unassigned=q.assignee == "none" and sees_all(user), text=q.q or None,
        overdue_at=now if q.overdue else None, sla=sla)
