"""The reports as a dashboard (BR-28, BR-29): the figures of `dispatch.reports.report` with server-drawn charts,
and the same XLSX workbook as `GET /api/v1/reports/{kind}?format=xlsx`, for the roles that read them."""
from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from bot.api.report_workbook import REGISTERS, layout
from bot.api.reports import send_workbook
from bot.console.charts import bars
from bot.console.context import services, user_of
from bot.console.render import error, page
from bot.console.roles import FINANCE, REPORTS
from dispatch.reports import BadPeriod, current_period, period_of, report

routes = web.RouteTableDef()
KINDS = ("weekly", "monthly", "finance")


def _roles(kind: str) -> frozenset[str]:
    return FINANCE if kind == "finance" else REPORTS


@routes.get("/admin/reports")
async def reports_home(request: web.Request) -> web.Response:
    kind = "monthly" if user_of(request).role in REPORTS else "finance"
    raise web.HTTPSeeOther(f"/admin/reports/{kind}")


@routes.get(r"/admin/reports/{kind:weekly|monthly|finance}")
async def dashboard(request: web.Request) -> web.StreamResponse:
    kind = request.match_info["kind"]
    user = user_of(request)
    if user.role not in _roles(kind):
        raise await error(request, 403, "forbidden")
    s = services(request)
    tz, now = s.clock.tz, s.clock.now()
    q = request.query
    try:
        period = period_of(kind, q["period"], tz) if q.get("period") else current_period(kind, now, tz)
    except BadPeriod:
        raise await error(request, 400, "bad_period") from None
    if q.get("format") == "xlsx":
        register = q.get("register", "")
        if register and register not in REGISTERS:
            raise await error(request, 400, "bad_period")
        return await send_workbook(request, s, period, register)
    async with s.sessions() as db:
        body = await report(db, period, now, sla=s.settings.sla, tz=tz)
    words = layout()
    unassigned = words["words"]["unassigned"]
    return await page(
        request, "reports.html.j2", kind=kind, period=period, r=body, title=words["titles"][kind],
        last_day=(period.end - timedelta(days=1)).date(),
        previous=current_period(kind, period.start - timedelta(days=1), tz).label,
        following=current_period(kind, period.end + timedelta(hours=1), tz).label,
        tabs=[k for k in KINDS if user.role in _roles(k)],
        trades=_work(body["by_trade"], lambda g: s.texts.label("trade", g["trade"])),
        technicians=_work(body["by_technician"], lambda g: g["name"] or unassigned),
        sla=_sla(body["totals"]["sla"], s.texts),
        paid=bars([(s.texts.label("trade", g["trade"]), [("value", float(g["total"]))], f"¥{g['total']}")
                   for g in body.get("finance", {}).get("paid", {}).get("by_trade", [])]))


def _work(groups: list[dict], name) -> object:
    """Issued work per trade or technician: completed, unfinished, cancelled, stacked."""
    return bars([(name(g), [("completed", g["completed"]), ("unfinished", g["unfinished"]),
                            ("cancelled", g["cancelled"])], str(g["issued"])) for g in groups])


def _sla(sla: dict, texts) -> object:
    """BR-9/BR-10 compliance per clock, as shares of a full bar."""
    rows = []
    for kind, v in sla.items():
        share = v["compliance"]
        segments = [("met", share), ("breached", 1 - share)] if share is not None else []
        rows.append((texts.label("clock", kind), segments, f"{share * 100:.1f}%" if share is not None else "—"))
    return bars(rows, scale=1.0)
