"""GET /api/v1/buildings: tickets grouped by building (from the estate's unit list or the parsed place)."""
from __future__ import annotations

from aiohttp import web

from bot.http import dumps as _dumps
from bot.services import services_of
from dispatch.units import building_counts

routes = web.RouteTableDef()


@routes.get("/api/v1/buildings")
async def buildings(request: web.Request) -> web.Response:
    services = services_of(request)
    prop = services.settings.service.property
    async with services.sessions() as session:
        rows = await building_counts(session, prop)
    # "" gathers the tickets whose place names no building (小区门口, 地下车库).
    items = [{"building": b, "open": o, "total": t} for b, o, t in rows]
    return web.json_response({"buildings": items}, dumps=_dumps)
