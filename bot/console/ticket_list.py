"""The live ticket list: filters, counts per status, newest first; the page's script refreshes it in place."""
from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from bot.console.context import services, user_of
from bot.console.filters import parse, ticket_filter
from bot.console.render import page, render
from bot.console.roles import FEES, sees_all, sees_fees
from dispatch.clocks import card_clock, clock_line
from dispatch.routing import staff_with_roles
from dispatch.statuses import ALL, AREAS, CATEGORIES, TRADES
from dispatch.tickets import count_by_status, list_tickets

routes = web.RouteTableDef()
PER_PAGE = 50


@routes.get("/admin")
@routes.get("/admin/")
async def home(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/admin/tickets")


@routes.get("/admin/tickets")
async def tickets(request: web.Request) -> web.Response:
    s = services(request)
    user = user_of(request)
    q = parse(request.query)
    now = s.clock.now()
    f = ticket_filter(q, user, now, s.clock.tz, s.settings.sla)
    async with s.sessions() as db:
        found, _ = await list_tickets(db, f, q.page, PER_PAGE, with_total=False)
        counts = await count_by_status(db, f)
        total = counts.get(q.status, 0) if q.status else sum(counts.values())   # the same filter, counted once
        # How many of them a clock of the rule has run out on (the counts ignore the status filter; so does this).
        overdue = sum((await count_by_status(db, replace(f, overdue_at=now))).values())
        technicians = await staff_with_roles(db, ("technician",)) if sees_all(user) else []
        rows = [_row(t, now, s, user) for t in found]
    ctx = dict(q=q, rows=rows, total=total, counts=counts, overdue=overdue, statuses=ALL, trades=TRADES, areas=AREAS,
               categories=CATEGORIES, technicians=[(p.id, p.name) for p in technicians],
               pages=max(1, -(-total // PER_PAGE)), all_tickets=sees_all(user),
               fee_column=user.role in FEES or not sees_all(user))
    if request.query.get("partial") == "1":
        # The page's script asks for this every few seconds and swaps it in: the list stays live.
        html = await render(request, "ticket_rows.html.j2", **ctx)
        return web.Response(text=html, content_type="text/html", charset="utf-8")
    return await page(request, "tickets.html.j2", **ctx)


def _row(t, now, s, user) -> dict:
    clock = card_clock(t, now, s.settings.sla)
    return {"t": t, "assignee": t.assignee.name if t.assignee else "",
            "clock": clock_line(t, now, s.texts, s.settings.sla), "late": bool(clock and clock.operational.breached),
            "fee": t.fee if sees_fees(user, t.assignee_id) else None}
