"""The printable 工程维修单 (BR-6): one ticket as the paper form, in its four copies — engineering, finance,
the customer, housekeeping — each with what its reader needs, one A4 page each."""
from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from sqlalchemy import select

from bot.console.context import services, user_of
from bot.console.render import local_photo, page
from bot.console.roles import sees_fees, sees_phone
from bot.console.ticket_page import visible
from bot.console.timeline import timeline
from store.models import Followup, photos_of
from templates.texts import mask_phone

routes = web.RouteTableDef()
# The copies in the order of the paper form, and which of them carry the resident's full number: engineering
# calls before going in (BR-11, BR-12), housekeeping calls back (BR-25); finance and the customer's own copy
# need no number to do their part.
COPIES = ("engineering", "finance", "customer", "housekeeping")
CALLING_COPIES = frozenset({"engineering", "housekeeping"})


@routes.get("/admin/tickets/{number}/print")
async def print_form(request: web.Request) -> web.Response:
    s = services(request)
    user = user_of(request)
    async with s.sessions() as db:
        t = await visible(request, db)
        events = await timeline(db, t)
        followup = (await db.execute(select(Followup).where(Followup.ticket_id == t.id))).scalar_one_or_none()
    full = sees_phone(user, t.assignee_id)
    phones = {copy: t.phone if full and copy in CALLING_COPIES else mask_phone(t.phone) for copy in COPIES}
    warranty_until = t.completed_at + timedelta(days=s.policy.warranty_days) if t.completed_at else None
    dispatched = next((e.at for e in events if e.action == "dispatched"), t.dispatched_at)
    return await page(request, "print.html.j2", t=t, copies=COPIES, phones=phones, fees=sees_fees(user, t.assignee_id),
                      followup=followup, warranty_until=warranty_until, dispatched_at=dispatched,
                      photos=[local_photo(request, p.id) for p in photos_of(t, "report")][:2],
                      printed_at=s.clock.now(), printed_by=user.name)
