"""Preferred visit time: find a Chinese day/time phrase and turn it into the tz-aware start of the window."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dateparser

from conversations.textcheck import cn_int, fold_width
from conversations.vocabulary import longest_first, pattern, rule_file

SHANGHAI = ZoneInfo("Asia/Shanghai")

# A day named without a time is the maintenance team's working day.
DAY_START = time(9, 0)
DAY_END = time(18, 0)

_WORDS = rule_file("visit_time.toml")
_HOURS, _DAYS = _WORDS["hours"], _WORDS["days"]
# Where each named part of the day starts and ends; some also shift a clock hour by 12.
_PERIOD_START = {period: times["start"] for period, times in _WORDS["periods"].items()}
_PERIOD_END = {period: times["end"] for period, times in _WORDS["periods"].items()}
_PM_PERIODS = set(_HOURS["pm"])
_NOON = _HOURS["noon"]
_CLOCK_WORD = _HOURS["clock_word"]
_NOT_ALONE = set(_HOURS["not_alone"])
_QUARTERS: dict[str, int] = _HOURS["quarters"]
_BEFORE = set(_HOURS["before"])
# "今晚" / "明早" carry both a day and a period.
_DAY_WITH_PERIOD = {word: tuple(day_and_period) for word, day_and_period in _DAYS["with_period"].items()}
_WEEKDAYS: dict[str, int] = _DAYS["weekdays"]
_WEEKEND, _WEEKEND_DAY, _NEXT = _DAYS["weekend"], _DAYS["weekend_day"], _DAYS["next_marker"]
_WEEKDAY_NAMES = tuple(_DAYS["weekday_names"])
_SYNONYMS: dict[str, str] = _DAYS["synonyms"]
_DATE_FORMATS = list(_DAYS["date_formats"])

# Every part is optional in the pattern; _usable() insists on a day, a period or a clock.
_PHRASE = re.compile(pattern(_WORDS["phrase"], "whole", periods=longest_first(_PERIOD_START)))


@dataclass(frozen=True)
class VisitMatch:
    span: tuple[int, int]   # where the phrase is in the text
    start: datetime


def parse_visit(text: str, now: datetime) -> tuple[str, datetime] | None:
    """First visit phrase in text as (phrase as written, start of the window), or None.

    Rules (now is converted to Asia/Shanghai first):
    - The window of a phrase: a clock time starts it ("下午3点" 15:00, "7点后" 19:00); a period alone
      spans the period ("上午" 09:00-12:00); "3点前" runs from the period/working day up to 3; a day
      alone is the working day 09:00-18:00. A window already running today starts now.
    - An explicit day (今天, 明天, 12月3日, 下周一) is kept even if its window is already over.
    - A bare weekday ("周六") is the next occurrence whose window is not over: on a Saturday at
      13:00 "周六下午" is today from 13:00 but "周六上午" is next Saturday 09:00.
    - A time without a day ("下午3点") is today if its window is not over, else tomorrow.
    - "下周X" is weekday X of the next Monday-based week, so on a Sunday "下周一" is tomorrow.
    - A year-less date already past this year is next year's.
    """
    found = find_visit(text, now)
    if found is None:
        return None
    begin, end = found.span
    return text[begin:end].strip(), found.start


def find_visit(text: str, now: datetime, *,
               accept: Callable[[re.Match], bool] | None = None) -> VisitMatch | None:
    """First phrase (optionally the first one accept(match) approves) with its span in text."""
    now = _local(now)
    for match in _PHRASE.finditer(fold_width(text)):
        if not _usable(match) or (accept is not None and not accept(match)):
            continue
        start = _resolve(match, now)
        if start is not None:
            return VisitMatch(match.span(), start)
    return None


def _usable(match: re.Match) -> bool:
    if match.group("day") or match.group("period"):
        return True
    hour = match.group("hour")
    # A lone clock needs digits: "一点"/"一时" are everyday words ("漏了一点"), not times.
    return hour is not None and (hour[0].isdigit() or match.group("unit") == _CLOCK_WORD and hour not in _NOT_ALONE)


def _local(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(SHANGHAI)


@dataclass(frozen=True)
class _Window:
    start: time      # when the visit may begin
    deadline: time   # the latest moment at which that day still counts


def _resolve(match: re.Match, now: datetime) -> datetime | None:
    day_word = match.group("day")
    period = match.group("period")
    if day_word in _DAY_WITH_PERIOD:
        day_word, implied = _DAY_WITH_PERIOD[day_word]
        period = period or implied
    window = _window(match, period)
    if window is None:
        return None
    if day_word is None:
        return _today_or_tomorrow(window, now)
    return _on_day(match, day_word, window, now)


def _window(match: re.Match, period: str | None) -> _Window | None:
    clock = _clock(match, period)
    if clock is False:
        return None
    opens = _PERIOD_START[period] if period else DAY_START
    if clock is None:
        return _Window(opens, _PERIOD_END[period] if period else DAY_END)
    if match.group("suffix") in _BEFORE:
        # "3点前" is a window ending at 3: it opens with the period (or the working day).
        return _Window(min(opens, clock), clock)
    return _Window(clock, clock)


def _today_or_tomorrow(window: _Window, now: datetime) -> datetime:
    """Today while the window can still begin (from now on), otherwise tomorrow."""
    today = now.date()
    if datetime.combine(today, window.deadline, SHANGHAI) >= now:
        return max(datetime.combine(today, window.start, SHANGHAI), now)
    return datetime.combine(today + timedelta(days=1), window.start, SHANGHAI)


def _clock(match: re.Match, period: str | None) -> time | None | bool:
    """The clock time, None when there is none, False when it is not a valid time."""
    if match.group("hour") is None:
        return None
    hour = cn_int(match.group("hour"))
    minute = 30 if match.group("half") else int(match.group("minute") or 0)
    if match.group("quarter"):
        minute = _QUARTERS[match.group("quarter")]
    if hour is None or hour > 24 or minute > 59:
        return False
    if period in _PM_PERIODS and hour < 12:
        hour += 12
    elif period == _NOON and hour <= 2:
        hour += 12
    elif period is None and 1 <= hour <= 6:
        # Nobody books a repair for 3 a.m.: a bare "3点" is the afternoon.
        hour += 12
    return time(23, 59) if hour >= 24 else time(hour, minute)


def _on_day(match: re.Match, day_word: str, window: _Window, now: datetime) -> datetime | None:
    today = now.date()
    wd = match.group("wd") or (_WEEKEND_DAY if day_word.endswith(_WEEKEND) else None)
    week = match.group("week") or match.group("weekend")
    if wd is not None and week:
        monday = today - timedelta(days=today.weekday())
        day = monday + timedelta(days=(7 if week.startswith(_NEXT) else 0) + _WEEKDAYS[wd])
        if day < today:  # "这周一" said on a Wednesday: the coming one
            day += timedelta(days=7)
    elif match.group("bare_mday"):
        day = _month_day(today, int(match.group("bare_mday")))
    else:
        day = _dateparser_day(match, day_word, now)
    if day is None:
        return None
    if wd is not None and not week and (day - today).days == 7:
        # dateparser never returns today for a weekday name; today still counts while its window is ahead.
        if datetime.combine(today, window.deadline, SHANGHAI) >= now:
            day = today
    start = datetime.combine(day, window.start, SHANGHAI)
    if day == today and datetime.combine(today, window.deadline, SHANGHAI) >= now:
        return max(start, now)
    return start


def _dateparser_day(match: re.Match, day_word: str, now: datetime) -> date | None:
    """Relative day words, weekday names and dates via dateparser, anchored at now.

    dateparser knows 明天/后天/大后天 and 周/星期/礼拜 + day in Chinese, but not whole phrases like
    "明天下午3点" (it returns None), so only the day part is handed to it. Year-less "12月3日" needs
    an explicit format and is not moved to the future by PREFER_DATES_FROM, hence the roll-over below.
    """
    wd = match.group("wd")
    if wd is not None or day_word.endswith(_WEEKEND):
        # dateparser knows 周日 but not 周天 / 周7: hand it the canonical name.
        text = _WEEKDAY_NAMES[_WEEKDAYS[wd or _WEEKEND_DAY]]
    else:
        text = day_word
        for word, known in _SYNONYMS.items():
            text = text.replace(word, known)
    settings = {"RELATIVE_BASE": now.replace(tzinfo=None), "PREFER_DATES_FROM": "future",
                "RETURN_AS_TIMEZONE_AWARE": False}
    parsed = dateparser.parse(text, languages=["zh"], settings=settings,
                              date_formats=_DATE_FORMATS)
    if parsed is None:
        return None
    day = parsed.date()
    if match.group("month") and not match.group("year") and day < now.date():
        day = _replace_year(day, day.year + 1)
    return day


def _replace_year(day: date, year: int) -> date | None:
    try:
        return day.replace(year=year)
    except ValueError:  # 2月29日 in a year without one
        return None


def _month_day(today: date, mday: int) -> date | None:
    """"3号": this month's 3rd, or next month's when that is past."""
    year, month = today.year, today.month
    for _ in range(2):
        try:
            day = date(year, month, mday)
        except ValueError:
            day = None
        if day is not None and day >= today:
            return day
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None
