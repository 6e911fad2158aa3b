"""Liveness and readiness (database and Redis answer, and whether the holiday calendar is known); /metrics is
bot/metrics.py."""
from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from bot.calendar_watch import calendar_status
from bot.services import services_of

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    services = services_of(request)
    checks: dict[str, str] = {}
    try:
        async with services.database.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as e:  # readiness reports any failure instead of raising it
        checks["database"] = f"error: {type(e).__name__}"
    storage = services.storage
    try:
        checks["state"] = "ok" if await storage.ping() else "error"
    except Exception as e:
        checks["state"] = f"error: {type(e).__name__}"
    ok = all(v == "ok" for v in checks.values())
    body: dict = {"status": "ok" if ok else "unavailable", "checks": checks}
    redis = getattr(storage, "redis", None)
    if redis is not None:
        # Reported, not a reason to refuse traffic: without AOF a Redis restart loses what the inbox holds,
        # but a process that stops answering webhooks would lose more. Operators alert on the field.
        body["redis_persistence"] = persistence = await redis_persistence(redis)
        if persistence != "aof":
            body["warnings"] = [f"Redis persistence is {persistence} (appendonly yes is needed): "
                                "inbox events waiting in Redis are lost if it restarts"]
    if checks["database"] == "ok":
        # Reported, not a reason to refuse traffic: the desk still works on weekends alone (BR-3).
        try:
            calendar = await calendar_status(services.sessions, services.clock.now(), services.clock.tz)
        except Exception as e:
            body["calendar"] = {"error": type(e).__name__}
        else:
            body["calendar"] = calendar.json()
            if calendar.warning:
                body.setdefault("warnings", []).append(calendar.warning)
    return web.json_response(body, status=200 if ok else 503)


async def redis_persistence(redis) -> str:
    """"aof" when Redis writes an append-only file, "off" when not, "unknown" when it will not say."""
    try:
        info = await redis.info("persistence")
    except Exception:  # unreachable: the state check above already says so
        return "unknown"
    if "aof_enabled" not in info:
        return "unknown"
    return "aof" if int(info["aof_enabled"]) else "off"

