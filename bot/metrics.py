"""Prometheus /metrics: on the main port, or only on a listener of its own, optionally behind a bearer token."""
from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.api.errors import api_error
from bot.calendar_watch import calendar_status
from bot.secrets import token_digest
from bot.services import services_of

log = logging.getLogger(__name__)
# On a listener of its own, /metrics is served by a small app; this is the service's app beside it.
MAIN_APP: web.AppKey[web.Application] = web.AppKey("main_app", web.Application)


async def metrics(request: web.Request) -> web.Response:
    await _refresh(request)
    resp = web.Response(body=generate_latest())
    resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return resp


async def _refresh(request: web.Request) -> None:
    """Gauges read at scrape time (the calendar's provisional years cross November 1st with no event)."""
    try:
        services = services_of(request.app.get(MAIN_APP, request.app))
    except KeyError:  # not started (yet)
        return
    try:
        await calendar_status(services.sessions, services.clock.now(), services.clock.tz)
    except Exception:  # a database that does not answer shows in /readyz; the scrape keeps the last value
        log.debug("calendar gauge not refreshed", exc_info=True)


def setup_metrics(app: web.Application, settings, *, listener: bool = True) -> None:
    """`[service] metrics_port` moves /metrics off the main port (opened here when `listener`: the web
    process's job, not a worker's); `[service] metrics_token` makes it ask for `Authorization: Bearer`."""
    service = settings.service
    token = service.metrics_token.get_secret_value()
    handler = _with_token(token) if token else metrics
    if service.metrics_port is None:
        app.router.add_get("/metrics", handler)
    elif listener:
        app.cleanup_ctx.append(_listener(service.metrics_host, service.metrics_port, handler))


def _with_token(token: str):
    expected = token_digest(token)

    async def guarded(request: web.Request) -> web.Response:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token_digest(given), expected):
            raise api_error(401, "unauthorized")
        return await metrics(request)
    return guarded


def _listener(host: str, port: int, handler):
    async def listen(app: web.Application) -> AsyncIterator[None]:
        only = web.Application()
        only[MAIN_APP] = app   # whose services the gauges read at scrape time
        only.router.add_get("/metrics", handler)
        runner = web.AppRunner(only, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        yield
        await runner.cleanup()
    return listen
