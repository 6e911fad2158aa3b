"""One ticket: its fields, photos and voice notes, clocks with time left, the audit trail, and the actions this
user may take."""
from __future__ import annotations

import re
import secrets

from aiohttp import web

from bot.console import identity
from bot.console.action_forms import FORMS, body_of, offered
from bot.console.context import services, user_of
from bot.console.render import error, leave_message, local_photo, page
from bot.console.roles import may_see, sees_fees, sees_phone
from bot.console.timeline import timeline
from dispatch import receipts
from dispatch.actions import ActionResult, act
from dispatch.clocks import ticket_clocks
from dispatch.routing import staff_with_roles
from dispatch.tickets import get_ticket
from store.models import Person, Ticket, photos_of
from templates.texts import mask_phone

routes = web.RouteTableDef()
NUMBER = re.compile(r"[A-Z0-9-]{1,40}")   # BX20261129-0001; anything else names no ticket
NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")


async def visible(request: web.Request, db) -> Ticket:
    """The ticket of the path, or the 404 page: for a number that does not exist and for a ticket this user may
    not see alike (numbers are sequential; a technician learns nothing of other people's jobs)."""
    number = request.match_info["number"].upper()
    t = await get_ticket(db, number) if NUMBER.fullmatch(number) else None
    if t is None or not may_see(user_of(request), t.assignee_id):
        raise await error(request, 404, "not_found")
    return t


def handle(person: Person) -> str:
    """How an action's body names a colleague (dispatch.job.find_person): a platform user id, else the phone."""
    ids = [i.external_id for i in person.identities if i.platform != identity.PLATFORM]
    return ids[0] if ids else (person.phone or person.name)


@routes.get("/admin/tickets/{number}")
async def ticket(request: web.Request) -> web.Response:
    s = services(request)
    user = user_of(request)
    now = s.clock.now()
    async with s.sessions() as db:
        t = await visible(request, db)
        events = await timeline(db, t, fees=sees_fees(user, t.assignee_id))
        actions = offered(user, t)
        colleagues = []
        if {"reassign", "transfer"} & set(actions):
            people = await staff_with_roles(db, ("technician",))
            # Those of the ticket's trade first: they are who a supervisor means (BR-8).
            people.sort(key=lambda p: (t.trade not in (p.trades or []), p.id))
            colleagues = [(handle(p), p.name, t.trade in (p.trades or [])) for p in people if p.id != t.assignee_id]
        ctx = dict(
            t=t, events=events, actions=actions, forms=FORMS, colleagues=colleagues,
            nonces={a: secrets.token_urlsafe(12) for a in actions},
            clocks=ticket_clocks(t, now, s.settings.sla), now=now,
            photos=[{"url": local_photo(request, p.id), "kind": p.kind} for p in t.photos if p.kind != "voice"],
            recordings=[{"url": local_photo(request, p.id), "type": p.content_type} for p in photos_of(t, "voice")],
            phone=t.phone if sees_phone(user, t.assignee_id) else mask_phone(t.phone),
            fees=sees_fees(user, t.assignee_id), prices=[p for p in s.policy.prices if p.trade in ("", t.trade)])
        return await page(request, "ticket.html.j2", **ctx)


@routes.post("/admin/tickets/{number}/actions/{action}")
async def act_on(request: web.Request) -> web.Response:
    """The same domain call as a card's button (dispatch.actions.act), as this user's console identity. The
    form's one-time id is the press id: a form sent twice (a double click, a resent POST) acts once."""
    s = services(request)
    user = user_of(request)
    action = request.match_info["action"]
    if action not in FORMS:
        raise await error(request, 404, "not_found")
    form = await request.post()
    nonce = str(form.get("form", ""))
    key = receipts.receipt_key("console", nonce) if NONCE.fullmatch(nonce) else ""
    now = s.clock.now()
    async with s.sessions() as db, db.begin():
        t = await visible(request, db)
        number = t.number
        uid = await identity.ensure(db, user.id)
        try:
            first = await receipts.claim(db, key, action, number, now) if key else None
        except receipts.KeyReused:
            first = receipts.Receipt(action, number, "invalid", "")
        if first is not None:
            result = ActionResult(first.outcome, t, first.holder)
        else:
            result = await act(db, number, action, identity.PLATFORM, uid, now, body_of(action, form),
                               policy=s.policy)
            if key:
                await receipts.settle(db, key, result.outcome, result.holder)
        text = s.texts.render("console/outcome.j2", outcome=result.outcome, action=action, detail=result.detail,
                              holder=result.holder, number=number)
    await leave_message(request, text, "ok" if result.outcome == "ok" else "refused")
    raise web.HTTPSeeOther(f"/admin/tickets/{number}")
