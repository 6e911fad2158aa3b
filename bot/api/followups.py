"""Follow-up calls (回访, BR-25): the list to call, with the coverage figures, and recording a call."""
from __future__ import annotations

from aiohttp import web

from bot.api.errors import api_error
from bot.api.tickets import IDEMPOTENCY_KEY, _number, idempotency_key
from bot.http import dumps, json_object
from bot.services import services_of
from dispatch import followups as domain
from dispatch.receipts import KeyReused, claim, receipt_key, settle

routes = web.RouteTableDef()
PER_PAGE = 50
MAX_PAGE = 1_000_000
MAX_NOTE = 2000


def _iso(value, tz) -> str | None:
    return value.astimezone(tz).isoformat() if value else None


def followup_json(f, t, tz) -> dict:
    return {"ticket": t.number, "location": t.location, "area": t.area, "reporter": t.reporter_name,
            "phone": t.phone, "reason": f.reason, "selected_at": _iso(f.selected_at, tz),
            "called_at": _iso(f.called_at, tz), "called_by": f.called_by or None, "outcome": f.outcome or None,
            "note": f.note or None}


def _page(request: web.Request) -> int:
    try:
        page = int(request.query.get("page", "1"))
    except ValueError:
        raise api_error(400, "bad_query", field="page")
    if not 1 <= page <= MAX_PAGE:
        raise api_error(400, "bad_query", field="page")
    return page


@routes.get("/api/v1/followups")
async def list_(request: web.Request) -> web.Response:
    """`?status=pending|done` (none: both) and `?page=`; `coverage` is over every verified ticket."""
    status = request.query.get("status") or None
    if status not in (None, "pending", "done"):
        raise api_error(400, "bad_query", field="status")
    page = _page(request)
    services = services_of(request)
    tz = services.clock.tz
    async with services.sessions() as session:
        rows, total = await domain.followups(session, status, page, PER_PAGE)
        cover = await domain.coverage(session)
    return web.json_response({
        "followups": [followup_json(f, t, tz) for f, t in rows], "page": page, "per_page": PER_PAGE, "total": total,
        "coverage": cover.as_dict(), "target": services.policy.followup_share,
    }, dumps=dumps)


@routes.post("/api/v1/followups/{number}")
async def record(request: web.Request) -> web.Response:
    """`{"by", "outcome": "reached"|"unreachable", "note"?}`: the call made. Each request records one call
    (one event on the ticket); with an Idempotency-Key a retried request records nothing again."""
    key = idempotency_key(request)
    data = await json_object(request)
    by, outcome, note = data.get("by"), data.get("outcome"), data.get("note", "")
    if not isinstance(by, str) or not by.strip():
        raise api_error(422, "missing", field="by")
    if len(by) > 64:
        raise api_error(422, "invalid", field="by")
    if outcome is None:
        raise api_error(422, "missing", field="outcome")
    if outcome not in domain.OUTCOMES:
        raise api_error(422, "invalid", field="outcome")
    if note is None:
        note = ""
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise api_error(422, "invalid", field="note")
    number = _number(request)
    services = services_of(request)
    now = services.clock.now()
    replayed = False
    async with services.sessions() as session, session.begin():
        followup, ticket = await domain.followup_of(session, number)
        if ticket is None:
            raise api_error(404, "not_found")
        if followup is None:
            raise api_error(404, "no_followup")
        try:
            replayed = key != "" and await claim(session, receipt_key("api", key), "followup", number, now) is not None
        except KeyReused:
            raise api_error(422, "idempotency_key_reused", field=IDEMPOTENCY_KEY) from None
        if not replayed:
            await domain.record_call(session, followup, ticket, by.strip(), outcome, note.strip(), now)
            if key:
                await settle(session, receipt_key("api", key), "ok", "")
        body = followup_json(followup, ticket, services.clock.tz)
    return web.json_response(body, dumps=dumps, headers={"Idempotent-Replayed": "true"} if replayed else {})
