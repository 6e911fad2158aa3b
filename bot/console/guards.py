"""The console's middlewares, outermost first: security headers, HTML error pages, the CSRF check and the login."""
from __future__ import annotations

import asyncio
import logging
from urllib.parse import quote

from aiohttp import web

from bot.console import csrf
from bot.console.context import USER
from bot.console.render import error
from bot.console.sessions import signed_in

log = logging.getLogger(__name__)

# Nothing is loaded from anywhere but this host; no page may be framed (clickjacking a 改派 button).
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
LOGIN = "/admin/login"
LOGOUT = "/admin/logout"
STATIC = "/admin/static/"


@web.middleware
async def security_headers(request: web.Request, handler):
    try:
        response = await handler(request)
    except web.HTTPException as e:
        _headers(request, e)
        raise
    _headers(request, response)
    return response


def _headers(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:
        return   # a download already on its way (its headers were sent with its first bytes)
    response.headers.update(HEADERS)
    if not request.path.startswith(STATIC):
        # A page shows residents' addresses: no copy kept by the browser or a proxy.
        response.headers["Cache-Control"] = "no-store"


@web.middleware
async def error_pages(request: web.Request, handler):
    """An unexpected error is an HTML page without internals (the API's middleware would answer JSON)."""
    try:
        return await handler(request)
    except web.HTTPNotFound as e:
        if e.content_type == "text/html":
            raise
        raise await error(request, 404, "no_page") from None      # a path under /admin/ that names no page
    except (web.HTTPException, asyncio.CancelledError):
        raise
    except Exception:
        log.exception("console error on %s %s", request.method, request.path)
        raise await error(request, 500, "internal") from None


@web.middleware
async def csrf_check(request: web.Request, handler):
    """Every POST carries the session's token (the login form's too): a page of another site cannot post."""
    if request.method not in csrf.SAFE and not await csrf.token_ok(request):
        raise await error(request, 403, "csrf")
    return await handler(request)


@web.middleware
async def login_required(request: web.Request, handler):
    """Nothing of the console but its login page and its stylesheet exists for someone not signed in."""
    path = request.path
    if path in (LOGIN, LOGOUT) or path.startswith(STATIC):
        return await handler(request)
    user = await signed_in(request)
    if user is None:
        if request.method in csrf.SAFE:
            raise web.HTTPSeeOther(f"{LOGIN}?next={quote(request.path_qs, safe='')}")
        raise await error(request, 403, "signed_out")
    request[USER] = user
    return await handler(request)
