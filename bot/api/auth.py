"""Bearer-token check for /api/v1 (and the simulator beside a real platform), digests compared in constant time."""
from __future__ import annotations

import hmac

from aiohttp import web

from bot.services import services_of
from bot.api.errors import api_error
from bot.secrets import token_digest


def token_ok(request: web.Request) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    digest = token_digest(token)
    # every digest is compared (no early exit), so timing tells nothing about which one nearly matched
    return sum(hmac.compare_digest(digest, d) for d in services_of(request).api_token_digests) > 0


def _guarded(request: web.Request) -> bool:
    path = request.path
    if path.startswith("/api/"):
        return True
    # The simulator's page itself is served (it asks for the token); its API needs one. (Its fake platform
    # APIs are mounted only without a real platform: create_app never puts them beside one.)
    return path.startswith("/sim/api/") and services_of(request).sim_needs_token


@web.middleware
async def bearer_auth(request: web.Request, handler):
    if _guarded(request) and not token_ok(request):
        raise api_error(401, "unauthorized")
    return await handler(request)
