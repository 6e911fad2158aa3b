"""Console pages from templates/console/*.html.j2 (autoescaped), with what every page shows: who is signed in,
the CSRF token for its forms, the navigation, and a message left by the last action."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp_session import get_session

from bot.console import csrf
from bot.console.context import USER, services
from bot.console.roles import pages
from bot.media import photo_url

FLASH = "flash"


async def page(request: web.Request, template: str, *, status: int = 200, **ctx: Any) -> web.Response:
    html = await render(request, template, **ctx)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


async def render(request: web.Request, template: str, **ctx: Any) -> str:
    session = await get_session(request)
    user = request.get(USER)
    s = services(request)
    flash = session.pop(FLASH, None) if FLASH in session else None
    return s.texts.render(f"console/{template}", user=user, csrf=csrf.token(session), nav=pages(user) if user else {},
                          flash=flash, path=request.path, demo=s.demo_cast, **ctx)


async def error(request: web.Request, status: int, kind: str) -> web.HTTPException:
    """The HTML page of a refusal (403 forbidden or csrf, 404, 429 …) as an exception to raise."""
    html = await render(request, "error.html.j2", status=status, kind=kind)
    return _HTTP[status](text=html, content_type="text/html")


_HTTP = {400: web.HTTPBadRequest, 403: web.HTTPForbidden, 404: web.HTTPNotFound, 409: web.HTTPConflict,
         429: web.HTTPTooManyRequests, 500: web.HTTPInternalServerError}


async def leave_message(request: web.Request, text: str, kind: str = "ok") -> None:
    """A sentence for the next page shown (after a redirect), e.g. what an action did."""
    (await get_session(request))[FLASH] = {"text": text, "kind": kind}


def see_other(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)


def local_photo(request: web.Request, photo_id: int) -> str:
    """A photo's signed link as a path on this host: the page's own origin, whatever public_url says."""
    s = services(request)
    parts = urlsplit(photo_url(s, photo_id, s.clock.now()))
    return f"{parts.path}?{parts.query}"
