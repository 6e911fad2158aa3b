"""Ticket endpoints: list with filters, one by number, and staff entry on a caller's behalf (代录, BR-1)."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from bot.services import services_of
from bot.api.errors import api_error
from bot.api.serialize import ticket_json
from bot.http import dumps as _dumps, json_object
from conversations.visit_time import parse_visit
from conversations.report import build_report
from dispatch.statuses import ALL, AREAS, TRADES
from bot.settings import duty_of
from dispatch.filing import file_report
from dispatch.tickets import TicketFilter, get_ticket, list_tickets

routes = web.RouteTableDef()
PER_PAGE = 50
IDEMPOTENCY_KEY = "Idempotency-Key"
_KEY_CHARS = frozenset(map(chr, range(0x21, 0x7F)))


def idempotency_key(request: web.Request) -> str:
    """The client's Idempotency-Key header ("" without one): 1 to 200 visible ASCII characters."""
    if IDEMPOTENCY_KEY not in request.headers:
        return ""
    key = request.headers[IDEMPOTENCY_KEY].strip()
    if not 0 < len(key) <= 200 or not set(key) <= _KEY_CHARS:
        raise api_error(400, "invalid", field=IDEMPOTENCY_KEY)
    return key


MAX_PAGE = 1_000_000  # an offset past this is a probe, and a 30-digit one would overflow the database's integer
_NUMBER = re.compile(r"[A-Z0-9-]{1,40}")  # BX20261129-0001; anything else cannot name a ticket


def _number(request: web.Request) -> str:
    """The {number} of the path, or the same 404 as an unknown ticket (a NUL would reach PostgreSQL)."""
    number = request.match_info["number"].upper()
    if not _NUMBER.fullmatch(number):
        raise api_error(404, "not_found")
    return number


def _parse_time(name: str, value: str | None, tz) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value)
        t = t if t.tzinfo else t.replace(tzinfo=tz)
        t.astimezone(timezone.utc)  # 0001-01-01 east of UTC falls before year 1: no database can compare it
    except (ValueError, OverflowError):
        raise api_error(400, "bad_query", field=name)
    return t


def _building(value: str | None) -> str | None:
    """?building=3号楼 finds the tickets of 3栋: compared by the same key the tickets are stored with."""
    from conversations.extract import building_of, normalize_location
    return (building_of(value) or normalize_location(value)) if value else None


@routes.get("/api/v1/tickets")
async def list_(request: web.Request) -> web.Response:
    q = request.query
    services = services_of(request)
    tz = services.clock.tz
    for name, allowed in (("status", ALL), ("trade", TRADES), ("area", AREAS)):
        if q.get(name) and q[name] not in allowed:
            raise api_error(400, "bad_query", field=name)
    try:
        page = int(q.get("page", "1"))
    except ValueError:
        raise api_error(400, "bad_query", field="page")
    if not 1 <= page <= MAX_PAGE:
        raise api_error(400, "bad_query", field="page")
    f = TicketFilter(status=q.get("status") or None, trade=q.get("trade") or None, area=q.get("area") or None,
                     since=_parse_time("since", q.get("since"), tz), until=_parse_time("until", q.get("until"), tz),
                     building=_building(q.get("building")))
    async with services.sessions() as session:
        tickets, total = await list_tickets(session, f, page, PER_PAGE)
        items = [ticket_json(services, t, with_events=False) for t in tickets]
    return web.json_response({"tickets": items, "page": page, "per_page": PER_PAGE, "total": total},
                             dumps=_dumps)


@routes.get("/api/v1/tickets/{number}")
async def get_one(request: web.Request) -> web.Response:
    services = services_of(request)
    async with services.sessions() as session:
        ticket = await get_ticket(session, _number(request))
        if ticket is None:
            raise api_error(404, "not_found")
        body = ticket_json(services, ticket)
    return web.json_response(body, dumps=_dumps)


@routes.post("/api/v1/tickets")
async def create(request: web.Request) -> web.Response:
    """Staff entry: the same validation as the chat intake, the same domain function. With an
    Idempotency-Key a retried request answers with the ticket the first one filed and files nothing."""
    from dispatch.filing import filing_key

    key = idempotency_key(request)
    data = await json_object(request)
    services = services_of(request)
    clock = services.clock
    now = clock.now()
    fields = {k: data.get(k) if isinstance(data.get(k), str) or data.get(k) is None else str(data.get(k))
              for k in ("description", "location", "area", "reporter_name", "phone", "category", "trade",
                        "visit_text")}
    visit_at = None
    if fields.get("visit_text"):
        parsed = parse_visit(fields["visit_text"], clock.local_now())
        if parsed is None:
            raise api_error(422, "invalid", field="visit_text")
        visit_at = parsed[1]
    new, errors = build_report(fields, services.conversations.deps.rules, channel="api", visit_at=visit_at,
                               property=services.settings.service.property)
    if new is None:
        first = errors[0]
        raise api_error(422, first.code, field=first.field,
                        fields=[{"field": e.field, "code": e.code} for e in errors])
    actor = f"api:{data.get('entered_by') or 'desk'}"
    for attempt in (1, 2):
        try:
            async with services.sessions() as session, session.begin():
                filed = await file_report(session, new, actor, now, channels=set(services.channels),
                                          tz=services.settings.service.timezone, load_related=False,
                                          key=filing_key("api", key) if key else "",
                                          warranty_days=services.policy.warranty_days, policy=services.policy,
                                          duty=duty_of(services.settings))
                ticket = await get_ticket(session, filed.number)  # events, photos and assignee load with it
                body = ticket_json(services, ticket)
            break
        except IntegrityError:
            # The same key filed by a request committed while this one ran (SQLite files step by step;
            # PostgreSQL's one statement waits for it instead): run again, to answer with that ticket.
            if not key or attempt == 2:
                raise
    headers = {} if filed.fresh else {"Idempotent-Replayed": "true"}
    return web.json_response(body, status=201, dumps=_dumps, headers=headers)


# What each refusal of a domain action is over HTTP (contract.md "Lifecycle"); `invalid` is 422 with the
# body's field at fault, an unknown ticket 404, and anything else that changed nothing a 409 conflict.
FORBIDDEN = frozenset({"not_allowed", "not_your_trade", "unknown_person", "needs_approver"})


@routes.post("/api/v1/tickets/{number}/actions/{action}")
async def act(request: web.Request) -> web.Response:
    """The actions cards trigger, for scripts and the desk: `{"actor": {"channel", "user"}, ...body}` acts as
    that person; everything but `actor` is the action's body (contract.md "Lifecycle"), handed to the same
    domain function a card press runs. With an Idempotency-Key a retried request answers as the first did
    and changes nothing again."""
    from conversations.messages import ButtonPress
    from dispatch.lifecycle import STAFF_ACTIONS
    from dispatch.payloads import CardAction
    from dispatch.receipts import KeyReused, receipt_key

    action = request.match_info["action"]
    if action not in STAFF_ACTIONS:
        raise api_error(404, "not_found")
    key = idempotency_key(request)
    data = await json_object(request)
    actor = data.get("actor")
    if not isinstance(actor, dict) or not all(isinstance(actor.get(k), str) and actor[k] for k in ("channel", "user")):
        raise api_error(422, "missing", field="actor")
    body = {k: v for k, v in data.items() if k != "actor"}
    number = _number(request)
    services = services_of(request)
    p = ButtonPress(channel=actor["channel"], chat=actor["user"], user=actor["user"],
                    payload=CardAction(action, number).encode())
    try:
        result, text = await services.card_actions.press(p, receipt=receipt_key("api", key) if key else "",
                                                         body=body)
    except KeyReused:
        raise api_error(422, "idempotency_key_reused", field=IDEMPOTENCY_KEY) from None
    if result.outcome == "unknown_ticket":
        raise api_error(404, "not_found")
    if result.outcome in FORBIDDEN:  # the role × action table (dispatch/permissions.py) says no
        raise api_error(403, result.outcome, field=action, detail=text)
    if result.outcome == "invalid":
        raise api_error(422, "invalid", field=result.detail or "body", detail=text)
    status = 200 if result.outcome == "ok" else 409
    async with services.sessions() as session:
        ticket = await get_ticket(session, number)
        body = {"outcome": result.outcome, "message": text, "ticket": ticket_json(services, ticket)}
    return web.json_response(body, status=status, dumps=_dumps)
