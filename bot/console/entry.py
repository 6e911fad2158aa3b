"""Staff entry of a report taken by phone (代录, BR-1): the same checks as the chat and `POST /api/v1/tickets`
(conversations.report.build_report), filed by the same function (dispatch.filing.file_report)."""
from __future__ import annotations

import re
import secrets

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from bot.console import identity
from bot.console.context import services, user_of
from bot.console.render import error, leave_message, page
from bot.console.roles import ENTRY
from bot.settings import duty_of
from conversations.report import FieldError, build_report
from conversations.visit_time import parse_visit
from dispatch.filing import file_report, filing_key
from dispatch.statuses import AREAS, CATEGORIES, TRADES

routes = web.RouteTableDef()
FIELDS = ("description", "location", "area", "reporter_name", "phone", "category", "trade", "visit_text")
CHANNEL = "console"   # the ticket's channel: taken by phone, entered at the console (templates/labels/channel.toml)
NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")


async def _allowed(request: web.Request) -> None:
    if user_of(request).role not in ENTRY:
        raise await error(request, 403, "forbidden")


async def _form(request: web.Request, values: dict, errors: list[FieldError], status: int = 200) -> web.Response:
    return await page(request, "entry.html.j2", status=status, values=values, nonce=secrets.token_urlsafe(12),
                      errors={e.field: e.code for e in errors}, areas=AREAS, categories=CATEGORIES, trades=TRADES)


@routes.get("/admin/entry")
async def entry_form(request: web.Request) -> web.Response:
    await _allowed(request)
    return await _form(request, {k: "" for k in FIELDS}, [])


@routes.post("/admin/entry")
async def entry(request: web.Request) -> web.Response:
    await _allowed(request)
    s = services(request)
    user = user_of(request)
    form = await request.post()
    values = {k: str(form.get(k, "")).strip()[:1000] for k in FIELDS}
    fields = {k: v or None for k, v in values.items()}
    visit_at, errors = None, []
    if fields["visit_text"]:
        parsed = parse_visit(fields["visit_text"], s.clock.local_now())
        if parsed is None:
            errors.append(FieldError("visit_text", "invalid"))
        else:
            visit_at = parsed[1]
    new, problems = build_report(fields, s.conversations.deps.rules, channel=CHANNEL, visit_at=visit_at,
                                 property=s.settings.service.property)
    errors += problems
    if errors:
        return await _form(request, values, errors, status=422)
    nonce = str(form.get("form", ""))
    # The form's one-time id files the report once, however often the form is sent.
    key = filing_key(CHANNEL, nonce) if NONCE.fullmatch(nonce) else ""
    for attempt in (1, 2):
        try:
            async with s.sessions() as db, db.begin():
                uid = await identity.ensure(db, user.id)
                filed = await file_report(db, new, f"{identity.PLATFORM}:{uid}", s.clock.now(),
                                          channels=set(s.channels), tz=s.settings.service.timezone,
                                          load_related=False, key=key, duty=duty_of(s.settings))
            break
        except IntegrityError:   # the same form filed by a request that committed meanwhile: answer with it
            if not key or attempt == 2:
                raise
    await leave_message(request, s.texts.render("console/filed.j2", number=filed.number, fresh=filed.fresh))
    raise web.HTTPSeeOther(f"/admin/tickets/{filed.number}")
