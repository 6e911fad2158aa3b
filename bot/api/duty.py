"""The duty roster over REST (BR-3): who holds the desk at a time, and the working calendar behind it —
read a year, correct a day (kept through re-seeding), undo a correction, confirm a hand-entered year."""
from __future__ import annotations

import re
from datetime import date, datetime

from aiohttp import web

from bot.api.errors import api_error
from bot.http import dumps, json_object
from bot.services import services_of
from bot.settings import duty_of
from dispatch.calendar_days import KINDS, Day, calendar_year, confirm_year, reset_day, set_day
from dispatch.duty import desk_now, next_change

routes = web.RouteTableDef()
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
FIRST_YEAR, LAST_YEAR = 2000, 2100   # beyond these a year is a typo or a probe
MAX_NAME = 64


def day_json(d: Day) -> dict:
    return {"date": d.day.isoformat(), "kind": d.kind, "name": d.name, "source": d.source,
            "working": d.working, "provisional": d.provisional}


def _year(value: str, field: str) -> int:
    if not (value.isascii() and value.isdigit() and FIRST_YEAR <= int(value) <= LAST_YEAR):
        raise api_error(400, "bad_query", field=field)
    return int(value)


def _date(request: web.Request) -> date:
    value = request.match_info["date"]
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        d = date.fromisoformat(value)
    except ValueError:
        raise api_error(400, "bad_query", field="date") from None
    if not FIRST_YEAR <= d.year <= LAST_YEAR:
        raise api_error(400, "bad_query", field="date")
    return d


@routes.get("/api/v1/calendar")
async def get_year(request: web.Request) -> web.Response:
    """`?year=2027` (default: this year): every day, its kind, and whether the year is provisional."""
    services = services_of(request)
    year = _year(request.query["year"], "year") if "year" in request.query \
        else services.clock.now().astimezone(services.clock.tz).year
    async with services.sessions() as session:
        view = await calendar_year(session, year)
    return web.json_response({
        "year": view.year, "provisional": view.provisional, "package_version": view.package_version,
        "confirmed_at": view.confirmed_at.astimezone(services.clock.tz).isoformat() if view.confirmed_at else None,
        "days": [day_json(d) for d in view.days],
    }, dumps=dumps)


@routes.put("/api/v1/calendar/{date}")
async def put_day(request: web.Request) -> web.Response:
    """`{"kind": "holiday", "name": "元旦"}`: an operator's correction; seeding never undoes it."""
    services = services_of(request)
    d = _date(request)
    body = await json_object(request)
    kind, name = body.get("kind"), body.get("name", "")
    if kind is None:
        raise api_error(400, "missing", field="kind")
    if kind not in KINDS:
        raise api_error(400, "invalid", field="kind", allowed=list(KINDS))
    if not isinstance(name, str) or len(name) > MAX_NAME:
        raise api_error(400, "invalid", field="name")
    async with services.sessions() as session, session.begin():
        day = await set_day(session, d, kind, name.strip(), services.clock.now())
    return web.json_response(day_json(day), dumps=dumps)


@routes.delete("/api/v1/calendar/{date}")
async def delete_day(request: web.Request) -> web.Response:
    """Undo a correction: the day reads as the package (or, for an uncovered year, weekends) say again."""
    services = services_of(request)
    d = _date(request)
    async with services.sessions() as session, session.begin():
        day = await reset_day(session, d, services.clock.now())
    return web.json_response(day_json(day), dumps=dumps)


@routes.put("/api/v1/calendar/years/{year}")
async def put_year(request: web.Request) -> web.Response:
    """`{"confirmed": true}`: the year's holidays were entered by hand and are final, so it stops being
    provisional (no more warnings); `false` takes that back."""
    services = services_of(request)
    year = _year(request.match_info["year"], "year")
    body = await json_object(request)
    confirmed = body.get("confirmed")
    if not isinstance(confirmed, bool):
        raise api_error(400, "missing" if confirmed is None else "invalid", field="confirmed")
    async with services.sessions() as session, session.begin():
        provisional = await confirm_year(session, year, confirmed, services.clock.now())
    return web.json_response({"year": year, "provisional": provisional}, dumps=dumps)


@routes.get("/api/v1/duty")
async def get_duty(request: web.Request) -> web.Response:
    """Who holds the desk now (or `?at=` an ISO time; local when it has no offset), and until when."""
    services = services_of(request)
    tz = services.clock.tz
    at = services.clock.now()
    if "at" in request.query:
        try:
            at = datetime.fromisoformat(request.query["at"])
            at = at if at.tzinfo else at.replace(tzinfo=tz)
            if not FIRST_YEAR <= at.year <= LAST_YEAR:
                raise ValueError(at)
        except ValueError:
            raise api_error(400, "bad_query", field="at") from None
    duty = duty_of(services.settings)
    async with services.sessions() as session:
        shift = await desk_now(session, at, duty)
    return web.json_response({
        "role": shift.role, "people": [{"name": p.name, "phone": p.phone} for p in shift.people],
        "starts_at": shift.starts_at.astimezone(tz).isoformat(), "ends_at": shift.ends_at.astimezone(tz).isoformat(),
        "next_change": next_change(at, duty).astimezone(tz).isoformat(),
        "provisional": shift.provisional, "day": day_json(shift.day) if shift.day else None,
    }, dumps=dumps)
