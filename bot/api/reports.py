"""Report endpoints (BR-28, BR-29): weekly, monthly and finance figures as JSON, or the registers as XLSX."""
from __future__ import annotations

import tempfile

from aiohttp import web

from bot.api.errors import api_error
from bot.api.report_workbook import REGISTERS, write_workbook
from bot.http import dumps as _dumps
from bot.services import services_of
from dispatch.reports import BadPeriod, current_period, one_snapshot, period_of, report

routes = web.RouteTableDef()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 256 * 1024


@routes.get(r"/api/v1/reports/{kind:weekly|monthly|finance}")
async def get_report(request: web.Request) -> web.StreamResponse:
    """`?period=` 2026-W48 (weekly) or 2026-11 (monthly; finance: 2026-10-21 to 2026-11-20), the current one when
    absent; `?format=xlsx` the workbook (summary + both registers, or one with `?register=public|unit`)."""
    kind, q = request.match_info["kind"], request.query
    services = services_of(request)
    tz, now = services.clock.tz, services.clock.now()
    try:
        period = period_of(kind, q["period"], tz) if q.get("period") else current_period(kind, now, tz)
    except BadPeriod:
        raise api_error(400, "bad_period", field="period") from None
    fmt = q.get("format", "json")
    if fmt not in ("json", "xlsx"):
        raise api_error(400, "bad_query", field="format")
    register = q.get("register", "")
    if register and (fmt != "xlsx" or register not in REGISTERS):
        raise api_error(400, "bad_query", field="register")
    sla = services.settings.sla
    if fmt == "json":
        async with services.sessions() as session:
            body = await report(session, period, now, sla=sla, tz=tz)
        return web.json_response(body, dumps=_dumps)

    return await send_workbook(request, services, period, register)


async def send_workbook(request: web.Request, services, period, register: str = "") -> web.StreamResponse:
    """The period's workbook (summary + both registers, or one), streamed: the REST API and the console's
    download (bot/console/reports.py) send the same file."""
    tz, now, sla = services.clock.tz, services.clock.now(), services.settings.sla
    # The workbook goes to a temporary file (openpyxl zips at the end), then out in chunks: a large period
    # costs disk, not memory. The file has no name and vanishes when closed.
    with tempfile.TemporaryFile() as out:
        async with services.sessions() as session:
            await one_snapshot(session)
            body = await report(session, period, now, sla=sla, tz=tz)
            await write_workbook(out, session, body, period, services.texts, tz,
                                 registers=(register,) if register else REGISTERS)
        size = out.tell()
        out.seek(0)
        name = f"repairbot-{period.kind}-{period.label}{'-' + register if register else ''}.xlsx"
        response = web.StreamResponse(headers={"Content-Type": XLSX, "Content-Length": str(size),
                                               "Content-Disposition": f'attachment; filename="{name}"'})
        await response.prepare(request)
        while chunk := out.read(CHUNK):
            await response.write(chunk)
        await response.write_eof()
    return response
