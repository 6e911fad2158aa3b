"""The working calendar at start (seeded) and watched: a provisional year the desk needs is logged, shown
in /readyz and counted by a Prometheus gauge, so an operator enters that year's holidays in time."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from prometheus_client import Gauge

from dispatch.calendar_days import PACKAGE_VERSION, package_years, provisional_years, seed_calendar, seed_years

log = logging.getLogger(__name__)

PROVISIONAL_YEARS = Gauge(
    "repairbot_calendar_provisional_years",
    "Years the duty roster needs now (this one; from November 1st also the next) whose public holidays are "
    "unknown, so only weekends count as days off (BR-3); alert when above 0")
_logged_on: set[date] = set()   # days this process already logged the warning on (once a day is enough)


@dataclass(frozen=True)
class CalendarStatus:
    provisional: list[int]          # watched years with weekends only

    @property
    def warning(self) -> str:
        if not self.provisional:
            return ""
        first, last = package_years()
        years = ", ".join(map(str, self.provisional))
        return (f"the holiday calendar for {years} is provisional: chinesecalendar {PACKAGE_VERSION} covers "
                f"{first}-{last}, so only weekends count as days off and the duty desk (BR-3) would put the "
                "front desk on public holidays; upgrade the package, or enter the year's holidays and make-up "
                "working days with PUT /api/v1/calendar/{date} and confirm it with PUT /api/v1/calendar/years/{year}")

    def json(self) -> dict:
        first, last = package_years()
        return {"provisional_years": self.provisional, "package": f"chinesecalendar {PACKAGE_VERSION}",
                "package_covers": [first, last]}


async def calendar_status(sessions, now: datetime, tz: ZoneInfo, *, log_now: bool = False) -> CalendarStatus:
    """The watched years that are provisional; sets the gauge, and logs a warning once a day (`log_now`:
    whatever was logged today, as at start)."""
    today = now.astimezone(tz).date()
    async with sessions() as session:
        years = await provisional_years(session, today)
    status = CalendarStatus(years)
    PROVISIONAL_YEARS.set(len(years))
    if years and (log_now or today not in _logged_on):
        _logged_on.add(today)
        log.warning("%s", status.warning)
    return status


async def seed_at_start(sessions, now: datetime, tz: ZoneInfo) -> CalendarStatus:
    """Seed last, this and next year (idempotent; several processes may start together), then check."""
    async with sessions() as session, session.begin():
        report = await seed_calendar(session, now, seed_years(now.astimezone(tz).date()))
    if report.inserted or report.updated:
        log.info("calendar seeded from chinesecalendar %s: %d days added, %d updated",
                 PACKAGE_VERSION, report.inserted, report.updated)
    return await calendar_status(sessions, now, tz, log_now=True)
