"""Complaints (投诉, BR-27): the list, open ones first to answer, and the staff reply that goes to the resident."""
from __future__ import annotations

import re
from datetime import timedelta

from aiohttp import web

from bot.api.errors import api_error
from bot.api.followups import _iso, _page
from bot.api.tickets import IDEMPOTENCY_KEY, idempotency_key
from bot.http import dumps, json_object
from bot.services import services_of
from dispatch import complaints as domain
from dispatch.receipts import KeyReused, claim, receipt_key, settle
from store.models import Ticket

routes = web.RouteTableDef()
PER_PAGE = 50
_NUMBER = re.compile(r"[A-Z0-9-]{1,40}")   # TS20261129-0001; anything else names no complaint


def complaint_json(c, t, name: str, phone: str, services) -> dict:
    tz = services.clock.tz
    due = c.created_at + timedelta(seconds=services.settings.sla.complaint_reply)
    return {"number": c.number, "status": c.status, "ticket": t.number if t else None, "channel": c.channel,
            "user": c.user_id, "name": name or None, "phone": phone or None, "text": c.text,
            "created_at": _iso(c.created_at, tz), "reply_due_at": _iso(due, tz),
            # BR-27: answered within 24 h
            "overdue": (c.replied_at or services.clock.now()) > due,
            "replied_at": _iso(c.replied_at, tz), "replied_by": c.replied_by or None, "reply": c.reply or None}


@routes.get("/api/v1/complaints")
async def list_(request: web.Request) -> web.Response:
    """`?status=open|replied` (none: all) and `?page=`."""
    status = request.query.get("status") or None
    if status not in (None, *domain.STATUSES):
        raise api_error(400, "bad_query", field="status")
    page = _page(request)
    services = services_of(request)
    async with services.sessions() as session:
        rows, total = await domain.complaints(session, status, page, PER_PAGE)
        items = [complaint_json(c, t, *await domain.who(session, c, t), services) for c, t in rows]
    return web.json_response({"complaints": items, "page": page, "per_page": PER_PAGE, "total": total}, dumps=dumps)


@routes.post("/api/v1/complaints/{number}/reply")
async def reply(request: web.Request) -> web.Response:
    """`{"by", "text"}`: the answer, sent to the resident; a complaint is answered once (409 after), and
    with an Idempotency-Key a retried request answers as the first did."""
    key = idempotency_key(request)
    data = await json_object(request)
    by, text = data.get("by"), data.get("text")
    for name, value, limit in (("by", by, 64), ("text", text, domain.MAX_TEXT)):
        if not isinstance(value, str) or not value.strip():
            raise api_error(422, "missing", field=name)
        if len(value) > limit:
            raise api_error(422, "invalid", field=name)
    number = request.match_info["number"].upper()
    if not _NUMBER.fullmatch(number):
        raise api_error(404, "no_complaint")
    services = services_of(request)
    now = services.clock.now()
    replayed = False
    async with services.sessions() as session, session.begin():
        complaint = await domain.complaint_by_number(session, number)
        if complaint is None:
            raise api_error(404, "no_complaint")
        try:
            replayed = key != "" and await claim(session, receipt_key("api", key), "complaint_reply", number,
                                                 now) is not None
        except KeyReused:
            raise api_error(422, "idempotency_key_reused", field=IDEMPOTENCY_KEY) from None
        if not replayed:
            if complaint.status == domain.REPLIED:
                raise api_error(409, "already_replied")
            await domain.reply_complaint(session, complaint, by.strip(), text.strip(), now)
            if key:
                await settle(session, receipt_key("api", key), "ok", "")
        ticket = await session.get(Ticket, complaint.ticket_id) if complaint.ticket_id else None
        body = complaint_json(complaint, ticket, *await domain.who(session, complaint, ticket), services)
    return web.json_response(body, dumps=dumps, headers={"Idempotent-Replayed": "true"} if replayed else {})
