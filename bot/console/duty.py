"""Who holds the duty desk (BR-3) now and in the days ahead, and the working calendar behind it: a year's
holidays, 调休 days and corrections, which those who run the service may correct (dispatch/calendar_days.py)."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from aiohttp import web

from bot.console.context import services, user_of
from bot.console.render import error, leave_message, page
from bot.console.roles import CALENDAR, DUTY
from bot.settings import duty_of
from dispatch.calendar_days import KINDS, calendar_year, confirm_year, reset_day, set_day
from dispatch.duty import desk_now, next_change

routes = web.RouteTableDef()
AHEAD = 7                  # days of the roster shown
FIRST_YEAR, LAST_YEAR = 2000, 2100
MAX_NAME = 64
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


async def _allowed(request: web.Request, roles) -> None:
    if user_of(request).role not in roles:
        raise await error(request, 403, "forbidden")


@routes.get("/admin/duty")
async def roster(request: web.Request) -> web.Response:
    await _allowed(request, DUTY)
    s = services(request)
    duty = duty_of(s.settings)
    now = s.clock.now()
    today = now.astimezone(s.clock.tz).date()
    raw = request.query.get("year", "")
    year = int(raw) if raw.isdigit() and FIRST_YEAR <= int(raw) <= LAST_YEAR else today.year
    async with s.sessions() as db:
        current = await desk_now(db, now, duty)
        days = []
        for offset in range(AHEAD):
            d = today + timedelta(days=offset)
            day_shift = await desk_now(db, datetime.combine(d, duty.day_start, s.clock.tz), duty)
            night_shift = await desk_now(db, datetime.combine(d, duty.day_end, s.clock.tz), duty)
            days.append({"date": d, "day": day_shift, "night": night_shift})
        view = await calendar_year(db, year)
    special = [d for d in view.days if d.kind in ("holiday", "makeup_workday") or d.source == "manual"]
    return await page(request, "duty.html.j2", current=current, until=next_change(now, duty), days=days, view=view,
                      special=special, kinds=KINDS, editable=user_of(request).role in CALENDAR, duty=duty,
                      previous=year - 1, following=year + 1)


def _date(value: str) -> date | None:
    try:
        d = date.fromisoformat(value) if DATE.fullmatch(value) else None
    except ValueError:
        return None
    return d if d is not None and FIRST_YEAR <= d.year <= LAST_YEAR else None


@routes.post("/admin/duty/calendar")
async def correct(request: web.Request) -> web.Response:
    """Set a day's kind (and holiday name), undo a correction (`reset`), or confirm a hand-entered year."""
    await _allowed(request, CALENDAR)
    s = services(request)
    form = await request.post()
    now = s.clock.now()
    if "confirm_year" in form:
        raw = str(form["confirm_year"])
        if not (raw.isdigit() and FIRST_YEAR <= int(raw) <= LAST_YEAR):
            raise await error(request, 400, "bad_form")
        async with s.sessions() as db, db.begin():
            await confirm_year(db, int(raw), form.get("confirmed", "1") == "1", now)
        await leave_message(request, s.texts.render("console/calendar_changed.j2", what="year", year=raw))
        raise web.HTTPSeeOther(f"/admin/duty?year={raw}")
    d = _date(str(form.get("date", "")))
    kind, name = str(form.get("kind", "")), str(form.get("name", "")).strip()
    if d is None or (not form.get("reset") and (kind not in KINDS or len(name) > MAX_NAME)):
        raise await error(request, 400, "bad_form")
    async with s.sessions() as db, db.begin():
        day = await reset_day(db, d, now) if form.get("reset") else await set_day(db, d, kind, name, now)
    await leave_message(request, s.texts.render("console/calendar_changed.j2", what="day", day=day))
    raise web.HTTPSeeOther(f"/admin/duty?year={d.year}")
