"""`repairbot calendar seed`: store last, this and next year's working calendar now (start-up does the same)."""
from __future__ import annotations

import argparse
import asyncio

from bot.calendar_watch import calendar_status
from dispatch.calendar_days import PACKAGE_VERSION, seed_calendar, seed_years
from store.clock import Clock
from store.db import make_database, make_sessionmaker, migrate


def add_parser(sub: argparse._SubParsersAction) -> None:
    calendar = sub.add_parser("calendar", help="the working calendar behind the duty desk (BR-3)")
    calendar_sub = calendar.add_subparsers(dest="calendar_command", required=True)
    seed = calendar_sub.add_parser("seed", help="store the public holidays and make-up working days of last, "
                                                "this and next year from chinesecalendar (days set by hand stay)")
    seed.add_argument("--config")
    seed.add_argument("--year", type=int, action="append", help="seed this year instead (repeatable)")


def run(settings, args: argparse.Namespace) -> int:
    return asyncio.run(_seed(settings, args.year))


async def _seed(settings, years: list[int] | None) -> int:
    clock = Clock(settings.service.timezone)
    if settings.database.url.startswith("sqlite"):
        await migrate(settings.database.url)  # the embedded default migrates itself, as `serve` does
    database = make_database(settings.database.url, pool_size=1)
    try:
        sessions = make_sessionmaker(database)
        async with sessions() as session, session.begin():
            years = years or seed_years(clock.local_now().date())
            report = await seed_calendar(session, clock.now(), years)
        print(f"calendar {', '.join(map(str, years))} from chinesecalendar {PACKAGE_VERSION}: "
              f"{report.inserted} days added, {report.updated} updated"
              + (f"; provisional (weekends only): {', '.join(map(str, report.provisional))}"
                 if report.provisional else ""))
        status = await calendar_status(sessions, clock.now(), clock.tz)
        if status.warning:
            print(f"warning: {status.warning}")
    finally:
        await database.dispose()
    return 0
