"""CSRF tokens: one per session, in a hidden field of every form; a POST without the session's token is refused."""
from __future__ import annotations

import hmac
import secrets

from aiohttp import web
from aiohttp_session import Session, get_session

FIELD = "csrf"
HEADER = "X-CSRF-Token"   # for the page's own script
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token(session: Session) -> str:
    """The session's token, made on first use (the login form has one before anyone is signed in)."""
    if not isinstance(session.get(FIELD), str):
        session[FIELD] = new_token()
    return session[FIELD]


async def token_ok(request: web.Request) -> bool:
    session = await get_session(request)
    expected = session.get(FIELD)
    given = request.headers.get(HEADER, "")
    if not given and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        given = (await request.post()).get(FIELD, "")
    return isinstance(expected, str) and isinstance(given, str) and bool(given) \
        and hmac.compare_digest(expected.encode(), given.encode())
