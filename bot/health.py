"""Liveness and readiness (database and Redis answer); /metrics is bot/metrics.py."""
from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from bot import keys

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    app = request.app
    checks: dict[str, str] = {}
    try:
        async with app[keys.DB].connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as e:  # readiness reports any failure instead of raising it
        checks["database"] = f"error: {type(e).__name__}"
    storage = app[keys.ENGINE].deps.storage
    try:
        checks["state"] = "ok" if await storage.ping() else "error"
    except Exception as e:
        checks["state"] = f"error: {type(e).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return web.json_response({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)

