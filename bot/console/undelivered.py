"""What did not get through — messages no platform took, residents' messages set aside — with the phone to
call instead, and the re-drive that sends them again once the cause is fixed (bot/api/undelivered.py)."""
from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from bot.console.context import services, user_of
from bot.console.render import error, leave_message, page
from bot.console.roles import UNDELIVERED
from dispatch import outbox
from dispatch.people import person_for
from store.models import Outbox, Ticket

routes = web.RouteTableDef()
SHOWN = 200


async def _allowed(request: web.Request) -> None:
    if user_of(request).role not in UNDELIVERED:
        raise await error(request, 403, "forbidden")


@routes.get("/admin/undelivered")
async def undelivered(request: web.Request) -> web.Response:
    await _allowed(request)
    s = services(request)
    messages = []
    async with s.sessions() as db:
        rows = (await db.execute(select(Outbox).where(Outbox.status.in_(("undeliverable", "dead")))
                                 .order_by(Outbox.id.desc()).limit(SHOWN))).scalars().all()
        for row in rows:
            user, chat = outbox.split_recipient(row.recipient)
            ticket = await db.get(Ticket, row.ticket_id) if row.ticket_id else None
            person = await person_for(db, row.channel, user) if user else None
            messages.append({"row": row, "ticket": ticket, "text": _text(s, row, ticket), "name": person.name if person else "",
                             # Who to call instead (the reason this list exists): the person, else the reporter.
                             "call": (person.phone if person and person.phone else "") or (ticket.phone if ticket else "")})
        set_aside = await s.inbox.set_aside(SHOWN)
        for item in set_aside:
            person = await person_for(db, item["platform"], item["user"]) if item.get("user") else None
            item["call"] = person.phone if person and person.phone else ""
            item["name"] = person.name if person else ""
    return await page(request, "undelivered.html.j2", messages=messages, set_aside=set_aside)


def _text(s, row: Outbox, ticket: Ticket | None) -> str:
    """The message as it would have read; a card or a template that no longer renders shows its kind."""
    payload = row.payload or {}
    if payload.get("text"):
        return str(payload["text"])
    if payload.get("template") and ticket is not None:
        try:
            return s.texts.render(payload["template"], t=ticket, **payload.get("vars", {}))
        except Exception:   # noqa: BLE001 — an old row for a template since changed: the list still shows it
            return ""
    return ""


@routes.post("/admin/undelivered/redrive")
async def redrive(request: web.Request) -> web.Response:
    """One message (`outbox`), one set-aside item (`inbox`), or everything (neither)."""
    from bot.runtime import redrive as run

    await _allowed(request)
    form = await request.post()
    outbox_id, inbox_id = str(form.get("outbox", "")), str(form.get("inbox", ""))
    if outbox_id or inbox_id:
        done = await run(services(request), [inbox_id] if inbox_id else [],
                         [int(outbox_id)] if outbox_id.isdigit() and len(outbox_id) < 19 else [])
    else:
        done = await run(services(request), None, None)
    text = services(request).texts.render("console/redriven.j2", inbox=len(done["inbox"]),
                                          outbox=len(done["outbox"]))
    await leave_message(request, text)
    raise web.HTTPSeeOther("/admin/undelivered")
