"""The finance view (BR-14, BR-29): quoted, paid and waived work of one finance period, the 21st to the 20th."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from aiohttp import web
from sqlalchemy import or_, select

from bot.console.context import services, user_of
from bot.console.render import error, page
from bot.console.roles import FINANCE
from store.models import Ticket

routes = web.RouteTableDef()
PERIOD = re.compile(r"(\d{4})-(\d{2})")
CUT_OFF = 20          # BR-29: the period ends on the 20th
SHOWN = 2000


@dataclass(frozen=True)
class Period:
    """Finance period "2026-11": from 21 October to 20 November inclusive (local days)."""

    year: int
    month: int

    @classmethod
    def containing(cls, day: date) -> Period:
        if day.day > CUT_OFF:
            return cls(day.year + day.month // 12, day.month % 12 + 1)
        return cls(day.year, day.month)

    @property
    def first(self) -> date:
        return date(self.year - (self.month == 1), (self.month - 2) % 12 + 1, CUT_OFF + 1)

    @property
    def last(self) -> date:
        return date(self.year, self.month, CUT_OFF)

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def shift(self, months: int) -> Period:
        index = self.year * 12 + self.month - 1 + months
        return Period(index // 12, index % 12 + 1)


@routes.get("/admin/fees")
async def fees(request: web.Request) -> web.Response:
    if user_of(request).role not in FINANCE:
        raise await error(request, 403, "forbidden")
    s = services(request)
    tz = s.clock.tz
    m = PERIOD.fullmatch(request.query.get("period", ""))
    period = Period(int(m[1]), int(m[2])) if m and 1 <= int(m[2]) <= 12 and 2000 <= int(m[1]) <= 2100 \
        else Period.containing(s.clock.local_now().date())
    start = datetime.combine(period.first, time(), tz)
    end = datetime.combine(period.shift(1).first, time(), tz)
    async with s.sessions() as db:
        rows = list((await db.execute(
            select(Ticket).where(Ticket.created_at >= start, Ticket.created_at < end,
                                 or_(Ticket.quote.is_not(None), Ticket.fee.is_not(None)))
            .order_by(Ticket.created_at, Ticket.id).limit(SHOWN))).scalars())
    paid = sum((t.fee for t in rows if t.fee and t.quote_status == "agreed"), Decimal("0"))
    waived = sum((Decimal(str(t.waiver.get("amount") or 0)) for t in rows
                  if (t.waiver or {}).get("status") == "approved"), Decimal("0"))
    return await page(request, "fees.html.j2", period=period, rows=rows, paid=paid, waived=waived,
                      previous=period.shift(-1), following=period.shift(1))
