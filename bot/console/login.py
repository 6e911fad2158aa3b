"""Signing in and out: the form posts `username` (a phone or platform user id of `[[staff]]`) and `password`."""
from __future__ import annotations

import logging
import math

from aiohttp import web
from aiohttp_session import get_session

from bot.console import csrf
from bot.console.context import console_of, services
from bot.console.passwords import hash_of, verify
from bot.console.render import page
from bot.console.sessions import sign_in, sign_out, signed_in
from bot.console.staff import clean_username, staff_named

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
HOME = "/admin/"


def _next(value: str | None) -> str:
    """Where to go after signing in: a page of the console, never another site (`//evil`, `/\\evil`)."""
    if value and value.startswith("/admin/") and "//" not in value and "\\" not in value:
        return value
    return HOME


@routes.get("/admin/login")
async def form(request: web.Request) -> web.Response:
    if await signed_in(request) is not None:
        raise web.HTTPSeeOther(_next(request.query.get("next")))
    return await page(request, "login.html.j2", next=_next(request.query.get("next")), username="", problem="")


@routes.post("/admin/login")
async def submit(request: web.Request) -> web.Response:
    data = await request.post()
    username = clean_username(str(data.get("username", "")))
    password = str(data.get("password", ""))
    target = _next(str(data.get("next", "")))
    s = services(request)
    lockout = console_of(request).lockout_of(s)
    async with s.sessions() as db:
        people = await staff_named(db, username)
        person = people[0] if len(people) == 1 else None
        password_hash = await hash_of(db, person.id) if person is not None else None
    # Counted per person (their phone and their user ids are one count), or per unknown name.
    who = f"person:{person.id}" if person is not None else f"name:{username}"
    until = await lockout.locked_until(who)
    if until is None:
        if username and await verify(password_hash, password):
            await lockout.succeeded(who)
            session = await get_session(request)
            sign_in(session, person.id, password_hash, s.clock.now(), csrf.new_token())
            log.info("console: %s (%s) signed in", person.name, person.role)
            raise web.HTTPSeeOther(target)
        until = await lockout.failed(who)
        log.warning("console: wrong password for a username%s", " (now locked)" if until else "")
    if until is not None:
        minutes = max(1, math.ceil((until - s.clock.now()).total_seconds() / 60))
        return await page(request, "login.html.j2", status=429, next=target, username=username,
                          problem="locked", minutes=minutes)
    return await page(request, "login.html.j2", status=401, next=target, username=username, problem="wrong")


@routes.post("/admin/logout")
async def logout(request: web.Request) -> web.Response:
    sign_out(await get_session(request))
    raise web.HTTPSeeOther("/admin/login")
