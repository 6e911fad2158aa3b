"""Who holds the duty desk at a moment (BR-3): the front desk, central control or the housekeeper on duty.

The rule, read from BR-3 ("Mon–Fri 09:00–18:00 the front desk; 18:00–09:00 the central control room; all
other times (weekends, public holidays) the housekeeper on duty"):

- the day hours (`[duty] front_desk`, 09:00–18:00) of a working day belong to the front desk (`desk`);
  a working day is a Monday to Friday that is no public holiday, or a 调休 Saturday/Sunday worked in lieu;
- the day hours of any other day (weekend, public holiday) belong to the housekeeper on duty (`housekeeper`);
- every night (`[duty] central_control`, 18:00–09:00) belongs to central control (`control`), whatever
  the days on either side are: BR-3 gives 18:00–09:00 to central control without the front desk's
  "Mon–Fri", and the central control room is the one post staffed round the clock. So the night before a
  holiday, the nights inside it and the night after it are central control's; the housekeeper holds the
  holiday's day hours only.

The desk therefore changes hands at every start and end of the day hours, every day (`next_change`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.calendar_days import Day, calendar_day
from store.models import Person

DESK, CONTROL, HOUSEKEEPER = "desk", "control", "housekeeper"
DUTY_ROLES = (DESK, CONTROL, HOUSEKEEPER)
_HOURS = re.compile(r"\s*([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-3]):([0-5]\d)\s*")


def parse_hours(value: str) -> tuple[time, time]:
    """"09:00-18:00" → (09:00, 18:00); ValueError naming the expected form."""
    m = _HOURS.fullmatch(value)
    if not m:
        raise ValueError(f"{value!r} is not hours as HH:MM-HH:MM (e.g. 09:00-18:00)")
    h1, m1, h2, m2 = map(int, m.groups())
    return time(h1, m1), time(h2, m2)


def _hhmm(t: time) -> str:
    return t.strftime("%H:%M")


def day_hours(front_desk: str, central_control: str) -> tuple[time, time]:
    """The day hours from `[duty]`, checked: the front desk's span lies within one day, and central
    control's is exactly the rest of it, so someone holds the desk at every minute and never two."""
    start, end = parse_hours(front_desk)
    if not start < end:
        raise ValueError(f"front_desk {front_desk!r} must start before it ends within one day")
    night_start, night_end = parse_hours(central_control)
    if (night_start, night_end) != (end, start):
        raise ValueError(f"central_control {central_control!r} must be the rest of the day: "
                         f"{_hhmm(end)}-{_hhmm(start)} (front_desk is {_hhmm(start)}-{_hhmm(end)}), "
                         "so that someone holds the desk at every hour")
    return start, end


@dataclass(frozen=True)
class Duty:
    """`[duty]` and `[service] timezone` as the domain uses them."""

    day_start: time = time(9)       # the front desk's hours on a working day, the housekeeper's on another
    day_end: time = time(18)
    tz: str = "Asia/Shanghai"
    property: str = "default"

    @classmethod
    def of(cls, front_desk: str = "09:00-18:00", central_control: str = "18:00-09:00",
           tz: str = "Asia/Shanghai", property: str = "default") -> Duty:
        start, end = day_hours(front_desk, central_control)
        return cls(start, end, tz, property)


@dataclass(frozen=True)
class DeskShift:
    role: str                 # desk | control | housekeeper
    people: list[Person]      # the staff of that role (empty: nobody configured, the caller falls back)
    starts_at: datetime       # UTC, like the clock
    ends_at: datetime         # = next_change(...) for any moment inside the shift
    provisional: bool         # decided on a weekends-only guess of the calendar (a year not yet known)
    day: Day | None = None    # the calendar day behind day hours; None for a night


def _at(d: date, t: time, duty: Duty) -> datetime:
    return datetime.combine(d, t, tzinfo=ZoneInfo(duty.tz)).astimezone(timezone.utc)


def _span(now: datetime, duty: Duty) -> tuple[date | None, datetime, datetime]:
    """(the date whose day hours hold `now`, or None at night; start; end) of the shift around `now`."""
    local = now.astimezone(ZoneInfo(duty.tz))
    d, t = local.date(), local.time()
    if duty.day_start <= t < duty.day_end:
        return d, _at(d, duty.day_start, duty), _at(d, duty.day_end, duty)
    if t >= duty.day_end:
        return None, _at(d, duty.day_end, duty), _at(d + timedelta(days=1), duty.day_start, duty)
    return None, _at(d - timedelta(days=1), duty.day_end, duty), _at(d, duty.day_start, duty)


async def desk_now(session: AsyncSession, now: datetime, duty: Duty) -> DeskShift:
    """Who holds the desk at `now` (BR-3), the shift's bounds, and the people of that role."""
    if now.tzinfo is None:
        raise ValueError("naive datetime given; use the injected clock")
    d, starts_at, ends_at = _span(now, duty)
    day = await calendar_day(session, d) if d is not None else None
    if day is None:
        role = CONTROL
    else:
        role = DESK if day.working else HOUSEKEEPER
    people = list((await session.execute(
        select(Person).where(Person.role == role, Person.property == duty.property).order_by(Person.id)))
        .scalars())
    return DeskShift(role, people, starts_at, ends_at, day.provisional if day is not None else False, day)


def next_change(now: datetime, duty: Duty) -> datetime:
    """When the desk next changes hands after `now`: the next start or end of the day hours (the holder
    alternates between a day role and central control at each, so no calendar is needed)."""
    return _span(now, duty)[2]
