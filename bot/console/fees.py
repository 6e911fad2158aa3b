"""The finance view (BR-14, BR-29): the quoted, paid and waived tickets of one finance period (the 21st to the
20th, as `dispatch.reports` cuts it), one by one; the finance report adds them up."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from aiohttp import web
from sqlalchemy import or_, select

from bot.console.context import services, user_of
from bot.console.render import error, page
from bot.console.roles import FINANCE
from dispatch.reports import BadPeriod, current_period, period_of
from store.models import Ticket

routes = web.RouteTableDef()
SHOWN = 2000


@routes.get("/admin/fees")
async def fees(request: web.Request) -> web.Response:
    if user_of(request).role not in FINANCE:
        raise await error(request, 403, "forbidden")
    s = services(request)
    tz, now = s.clock.tz, s.clock.now()
    try:
        period = period_of("finance", request.query["period"], tz) if request.query.get("period") \
            else current_period("finance", now, tz)
    except BadPeriod:
        raise await error(request, 400, "bad_period") from None
    async with s.sessions() as db:
        rows = list((await db.execute(
            select(Ticket).where(Ticket.created_at >= period.start, Ticket.created_at < period.end,
                                 or_(Ticket.quote.is_not(None), Ticket.fee.is_not(None)))
            .order_by(Ticket.created_at, Ticket.id).limit(SHOWN))).scalars())
    paid = sum((t.fee for t in rows if t.fee and t.quote_status == "agreed"), Decimal("0"))
    waived = sum((Decimal(str(t.waiver.get("amount") or 0)) for t in rows
                  if (t.waiver or {}).get("status") == "approved"), Decimal("0"))
    return await page(request, "fees.html.j2", period=period, last_day=(period.end - timedelta(days=1)).date(),
                      rows=rows, paid=paid, waived=waived,
                      previous=current_period("finance", period.start - timedelta(days=1), tz).label,
                      following=current_period("finance", period.end + timedelta(hours=1), tz).label)
