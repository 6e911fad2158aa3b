"""Mainland China's working calendar in the database: which days are worked (BR-3), seeded and corrected.

Seeded from the `chinesecalendar` package (public holidays, the weekdays given off in lieu, and the 调休
Saturdays and Sundays that are worked instead). A year the package does not cover yet is seeded from
weekends alone and is *provisional* until the package covers it or an operator, having entered that year's
holidays by hand, confirms it. A day an operator set (`manual`) is never overwritten by seeding.
A day with no row (a year never seeded) reads exactly as seeding would have stored it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from datetime import date, datetime, timedelta

import chinese_calendar
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.db import dialect_name
from store.models import CalendarDay, CalendarYear

KINDS = ("workday", "makeup_workday", "holiday", "weekend")
WORKING = frozenset({"workday", "makeup_workday"})   # a make-up Saturday is a working day (BR-3)
PACKAGE_VERSION: str = chinese_calendar.__version__
# The State Council publishes next year's holidays in October or November: from this day of the year on,
# a provisional next year is something an operator must hear about (log, /readyz, metric).
WARN_FROM = (11, 1)
# pg_advisory_xact_lock key of the seeding, so processes starting together seed one after the other.
SEED_LOCK = 0x63616C656E64   # "calend"


@dataclass(frozen=True)
class Day:
    day: date
    kind: str             # one of KINDS
    name: str             # the holiday this day belongs to ("" for a plain workday or weekend)
    source: str           # package | weekends | manual
    provisional: bool     # only weekends were known when this answer was given

    @property
    def working(self) -> bool:
        return self.kind in WORKING


@cache
def package_years() -> tuple[int, int]:
    """First and last year the installed chinesecalendar has holiday data for."""
    years = [d.year for d in chinese_calendar.holidays]
    return min(years), max(years)


def covered(year: int) -> bool:
    first, last = package_years()
    return first <= year <= last


def _holiday_name(value: str) -> str:
    try:
        return chinese_calendar.Holiday(value).chinese
    except ValueError:   # a name a later package release adds and this enum lookup does not know
        return value


def computed_day(d: date) -> Day:
    """What the package says about `d`, or for a year it does not cover, weekends alone (provisional)."""
    if not covered(d.year):
        return Day(d, "weekend" if d.weekday() >= 5 else "workday", "", "weekends", True)
    if d in chinese_calendar.workdays:   # 调休: a weekend day worked to make up for a holiday
        return Day(d, "makeup_workday", _holiday_name(chinese_calendar.workdays[d]), "package", False)
    if d in chinese_calendar.holidays:   # the holiday itself, its in-lieu weekdays and the weekend inside it
        return Day(d, "holiday", _holiday_name(chinese_calendar.holidays[d]), "package", False)
    return Day(d, "weekend" if d.weekday() >= 5 else "workday", "", "package", False)


def days_of(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]


def seed_years(today: date) -> list[int]:
    """The years seeding keeps in the database: last year (open tickets), this year and the next."""
    return [today.year - 1, today.year, today.year + 1]


@dataclass
class SeedReport:
    inserted: int = 0
    updated: int = 0
    provisional: list[int] = field(default_factory=list)   # seeded years still provisional


async def seed_calendar(session: AsyncSession, now: datetime, years: list[int]) -> SeedReport:
    """Store the package's (or weekends') days of `years`, in the caller's transaction; idempotent.

    Rows set by hand stay as they are; rows seeded earlier change only when the package now says
    otherwise (a release that covers a provisional year replaces its weekends-only days).
    """
    if dialect_name(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEED_LOCK})
    report = SeedReport()
    years_table = CalendarYear.__table__
    kept = {row.year: row for row in (await session.execute(
        select(years_table).where(years_table.c.year.in_(years))))}
    for year in years:
        if not await _seeded(session, kept.get(year), year):
            await _seed_days(session, year, now, report)
    # Rows of years first seeded now; a process seeding at the same moment may have added one first.
    insert = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    fresh = [{"year": y, "provisional": not covered(y), "package_version": _version(y), "seeded_at": now,
              "confirmed_at": None} for y in years if y not in kept]
    if fresh:
        await session.execute(insert(years_table).on_conflict_do_nothing(index_elements=["year"]), fresh)
    for row in (await session.execute(select(CalendarYear).where(CalendarYear.year.in_(years))
                                      .order_by(CalendarYear.year)
                                      .execution_options(populate_existing=True))).scalars():
        year, version = row.year, _version(row.year)
        if row.package_version != version:
            row.package_version, row.seeded_at = version, now
        row.provisional = not covered(year) and row.confirmed_at is None
        if row.provisional:
            report.provisional.append(year)
    await session.flush()
    return report


def _version(year: int) -> str:
    return PACKAGE_VERSION if covered(year) else ""


async def _seeded(session: AsyncSession, row, year: int) -> bool:
    """Every day of `year` is stored, by this package release: nothing to compare (the usual start)."""
    if row is None or row.package_version != _version(year):
        return False
    stored = (await session.execute(select(func.count()).select_from(CalendarDay).where(
        CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)))).scalar_one()
    return stored == len(days_of(year))


async def _seed_days(session: AsyncSession, year: int, now: datetime, report: SeedReport) -> None:
    table = CalendarDay.__table__
    existing = {r.day: r for r in (await session.execute(
        select(table.c.day, table.c.kind, table.c.name, table.c.source)
        .where(table.c.day >= date(year, 1, 1), table.c.day <= date(year, 12, 31))))}
    new = []
    for d in days_of(year):
        want = computed_day(d)
        row = existing.get(d)
        if row is None:
            new.append({"day": d, "kind": want.kind, "name": want.name, "source": want.source, "updated_at": now})
        elif row.source != "manual" and (row.kind, row.name, row.source) != (want.kind, want.name, want.source):
            await session.execute(update(table).where(table.c.day == d).values(
                kind=want.kind, name=want.name, source=want.source, updated_at=now))
            report.updated += 1
    if new:
        insert = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
        # Another process seeding at the same moment (SQLite has no advisory lock) may have stored a day first.
        await session.execute(insert(table).on_conflict_do_nothing(index_elements=["day"]), new)
        report.inserted += len(new)


async def year_provisional(session: AsyncSession, year: int) -> bool:
    row = await session.get(CalendarYear, year)
    if row is None:
        return not covered(year)
    return row.provisional


async def calendar_day(session: AsyncSession, d: date) -> Day:
    """The day as the desk should treat it: the stored row, else what seeding would have stored."""
    row = await session.get(CalendarDay, d)
    if row is None:
        computed = computed_day(d)
        return Day(d, computed.kind, computed.name, computed.source,
                   computed.provisional and await year_provisional(session, d.year))
    provisional = row.source == "weekends" and await year_provisional(session, d.year)
    return Day(d, row.kind, row.name, row.source, provisional)


@dataclass(frozen=True)
class YearView:
    year: int
    provisional: bool
    package_version: str          # the chinesecalendar release that covers it ("" when none does)
    confirmed_at: datetime | None
    days: list[Day]


async def calendar_year(session: AsyncSession, year: int) -> YearView:
    """Every day of `year` (stored rows, the rest as seeding would store them)."""
    stored = {row.day: row for row in (await session.execute(
        select(CalendarDay).where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))))
        .scalars()}
    row = await session.get(CalendarYear, year)
    provisional = row.provisional if row is not None else not covered(year)
    days = []
    for d in days_of(year):
        r = stored.get(d)
        c = computed_day(d) if r is None else None
        kind, name, source = (r.kind, r.name, r.source) if r is not None else (c.kind, c.name, c.source)
        days.append(Day(d, kind, name, source, provisional and source == "weekends"))
    return YearView(year, provisional, PACKAGE_VERSION if covered(year) else "",
                    row.confirmed_at if row is not None else None, days)


async def set_day(session: AsyncSession, d: date, kind: str, name: str, now: datetime) -> Day:
    """An operator's correction of one day; seeding never overwrites it (see `reset_day`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    row = await session.get(CalendarDay, d)
    if row is None:
        session.add(CalendarDay(day=d, kind=kind, name=name, source="manual", updated_at=now))
    else:
        row.kind, row.name, row.source, row.updated_at = kind, name, "manual", now
    await session.flush()
    return Day(d, kind, name, "manual", False)


async def reset_day(session: AsyncSession, d: date, now: datetime) -> Day:
    """Undo an operator's correction: the day reads as the package (or weekends) say again."""
    want = computed_day(d)
    row = await session.get(CalendarDay, d)
    if row is not None:
        row.kind, row.name, row.source, row.updated_at = want.kind, want.name, want.source, now
        await session.flush()
    return await calendar_day(session, d)


async def confirm_year(session: AsyncSession, year: int, confirmed: bool, now: datetime) -> bool:
    """An operator declares a year's hand-entered holidays final (or takes that back); returns whether the
    year is still provisional. A year the package covers is never provisional."""
    row = await session.get(CalendarYear, year)
    if row is None:
        row = CalendarYear(year=year, seeded_at=now, package_version=PACKAGE_VERSION if covered(year) else "",
                           provisional=True, confirmed_at=None)
        session.add(row)
    row.confirmed_at = now if confirmed else None
    row.provisional = not covered(year) and row.confirmed_at is None
    await session.flush()
    return row.provisional


def years_to_watch(today: date) -> list[int]:
    """This year, and from November 1st on the next one too: the years a provisional calendar matters for."""
    return [today.year, today.year + 1] if (today.month, today.day) >= WARN_FROM else [today.year]


async def provisional_years(session: AsyncSession, today: date) -> list[int]:
    """The watched years (`years_to_watch`) whose holidays are not known: an operator must act."""
    return [y for y in years_to_watch(today) if await year_provisional(session, y)]
