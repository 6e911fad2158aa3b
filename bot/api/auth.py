"""Bearer-token check for /api/v1, compared in constant time."""
from __future__ import annotations

import hmac

from aiohttp import web

from bot import keys
from bot.api.errors import api_error


@web.middleware
async def bearer_auth(request: web.Request, handler):
    if request.path.startswith("/api/"):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        tokens = request.app[keys.API_TOKENS]
        ok = scheme.lower() == "bearer" and token and any(
            hmac.compare_digest(token.encode(), t.encode()) for t in tokens)
        if not ok:
            raise api_error(401, "unauthorized")
    return await handler(request)
