"""What did not get through: messages no platform would take (dead letters, closed 48 h windows), with a
phone to call instead, and residents' messages set aside because processing them kept failing; and the
call that sends both through again once the cause is fixed."""
from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from bot.services import services_of
from bot.api.errors import api_error
from bot.http import dumps, json_object
from dispatch import outbox
from dispatch.people import person_for
from store.models import Outbox, Ticket

routes = web.RouteTableDef()


@routes.get("/api/v1/undelivered")
async def undelivered(request: web.Request) -> web.Response:
    services = services_of(request)
    tz = services.clock.tz
    async with services.sessions() as session:
        rows = (await session.execute(select(Outbox).where(Outbox.status.in_(("undeliverable", "dead")))
                                      .order_by(Outbox.id.desc()).limit(200))).scalars().all()
        items = []
        for row in rows:
            user, chat = outbox.split_recipient(row.recipient)
            ticket = await session.get(Ticket, row.ticket_id) if row.ticket_id else None
            person = await person_for(session, row.channel, user) if user else None
            items.append({
                "id": row.id, "status": row.status, "channel": row.channel, "user": user, "chat": chat,
                "kind": row.kind, "error": row.last_error, "attempts": row.attempts,
                "created_at": row.created_at.astimezone(tz).isoformat(),
                "ticket": ticket.number if ticket else None,
                "text": _text_of(services, row, ticket),
                # Who to call instead: the person behind the account, else the ticket's reporter.
                "call": (person.phone if person and person.phone else None) or (ticket.phone if ticket else None),
            })
    return web.json_response({"undelivered": items}, dumps=dumps)


def _text_of(services, row: Outbox, ticket: Ticket | None) -> str | None:
    """What the person was to read: a reply's text, or a notice or question rendered from its template
    (the ticket as it is now), with the answers it offered, so whoever calls can ask it."""
    payload = row.payload
    if "template" not in payload:
        return payload.get("text")
    try:
        text = services.texts.render(payload["template"], t=ticket, **payload.get("vars", {}))
    except Exception:  # a template of an older release, or a ticket gone: the row is still listed
        return None
    options = payload.get("options") or []
    return text + ("\n" + " / ".join(options) if options else "")


@routes.get("/api/v1/unprocessed")
async def unprocessed(request: web.Request) -> web.Response:
    services = services_of(request)
    items = await services.inbox.set_aside()
    async with services.sessions() as session:
        for item in items:
            person = await person_for(session, item["platform"], item["user"]) if item["user"] else None
            item["call"] = person.phone if person and person.phone else None
    return web.json_response({"unprocessed": items}, dumps=dumps)


@routes.post("/api/v1/redrive")
async def redrive(request: web.Request) -> web.Response:
    """Send set-aside inbox items and dead outbox rows through again: `{"inbox": [ids], "outbox": [ids]}`
    names which (a list left out: none of that kind); no body, or `{}`, re-drives all of them."""
    from bot.runtime import redrive as run
    data = await json_object(request) if request.can_read_body else {}
    inbox, rows = data.get("inbox"), data.get("outbox")
    if inbox is not None or rows is not None:
        inbox, rows = inbox if inbox is not None else [], rows if rows is not None else []
    if inbox is not None and not (isinstance(inbox, list) and all(isinstance(i, (str, int)) for i in inbox)):
        raise api_error(400, "invalid", field="inbox")
    if rows is not None and not (isinstance(rows, list) and all(isinstance(i, int) and not isinstance(i, bool)
                                                               for i in rows)):
        raise api_error(400, "invalid", field="outbox")
    done = await run(services_of(request), [str(i) for i in inbox] if inbox is not None else None, rows)
    return web.json_response({"redriven": done}, dumps=dumps)
