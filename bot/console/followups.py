"""The follow-up calls (回访, BR-25): the queue to call, its coverage against the quota (every unit ticket, at
least 60 % of all), and recording a call as dispatch/followups.py keeps it for the REST API."""
from __future__ import annotations

import re
import secrets

from aiohttp import web

from bot.console import identity
from bot.console.context import services, user_of
from bot.console.render import error, leave_message, page
from bot.console.roles import FOLLOWUPS, sees_phone
from dispatch import followups as domain
from dispatch import receipts
from templates.texts import mask_phone

routes = web.RouteTableDef()
PER_PAGE = 50
MAX_NOTE = 2000
NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")


async def _allowed(request: web.Request) -> None:
    if user_of(request).role not in FOLLOWUPS:
        raise await error(request, 403, "forbidden")


@routes.get("/admin/followups")
async def queue(request: web.Request) -> web.Response:
    await _allowed(request)
    s = services(request)
    user = user_of(request)
    status = request.query.get("status", "pending")
    status = status if status in ("pending", "done", "all") else "pending"
    try:
        number = min(max(int(request.query.get("page", "1")), 1), 100_000)
    except ValueError:
        number = 1
    async with s.sessions() as db:
        rows, total = await domain.followups(db, None if status == "all" else status, number, PER_PAGE)
        cover = (await domain.coverage(db)).as_dict()
    items = [{"f": f, "t": t, "phone": t.phone if sees_phone(user, t.assignee_id) else mask_phone(t.phone),
              "nonce": secrets.token_urlsafe(12)} for f, t in rows]
    return await page(request, "followups.html.j2", items=items, total=total, shown=status, page_number=number,
                      pages=max(1, -(-total // PER_PAGE)), cover=cover, target=s.policy.followup_share)


@routes.post("/admin/followups/{number}")
async def record(request: web.Request) -> web.Response:
    """The call made: reached or not, with a note; one event on the ticket, recorded once per form."""
    await _allowed(request)
    s = services(request)
    user = user_of(request)
    form = await request.post()
    outcome, note = str(form.get("outcome", "")), str(form.get("note", "")).strip()
    number = request.match_info["number"].upper()
    if outcome not in domain.OUTCOMES or len(note) > MAX_NOTE:
        await leave_message(request, s.texts.render("console/followup_recorded.j2", ok=False, number=number),
                            "refused")
        raise web.HTTPSeeOther("/admin/followups")
    nonce = str(form.get("form", ""))
    key = receipts.receipt_key("console", nonce) if NONCE.fullmatch(nonce) else ""
    now = s.clock.now()
    async with s.sessions() as db, db.begin():
        followup, ticket = await domain.followup_of(db, number)
        if followup is None or ticket is None:
            raise await error(request, 404, "not_found")
        try:
            first = await receipts.claim(db, key, "followup", ticket.number, now) if key else None
        except receipts.KeyReused:
            first = receipts.Receipt("followup", ticket.number, "ok", "")
        if first is None:
            uid = await identity.ensure(db, user.id)
            await domain.record_call(db, followup, ticket, user.name, outcome, note, now,
                                     channel=identity.PLATFORM, actor=f"{identity.PLATFORM}:{uid}")
            if key:
                await receipts.settle(db, key, "ok", "")
    await leave_message(request, s.texts.render("console/followup_recorded.j2", ok=True, number=ticket.number,
                                                outcome=outcome))
    raise web.HTTPSeeOther("/admin/followups")
