"""Preferred visit time parsing (unit repairs): phrase as written plus the tz-aware window start."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from conversations.visit_time import parse_visit

SHANGHAI = ZoneInfo("Asia/Shanghai")
SUNDAY = datetime(2026, 11, 29, 10, 0, tzinfo=SHANGHAI)


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize("text, phrase, start", [
    ("明天下午3点", "明天下午3点", at(11, 30, 15)),
    ("周六上午", "周六上午", at(12, 5, 9)),
    ("今天晚上7点后在家", "今天晚上7点后", at(11, 29, 19)),
    ("下周一上午来修吧", "下周一上午", at(11, 30, 9)),     # on a Sunday next week starts tomorrow
    ("12月3日上午", "12月3日上午", at(12, 3, 9)),
    ("12月3号下午2点半", "12月3号下午2点半", at(12, 3, 14, 30)),
    ("后天中午", "后天中午", at(12, 1, 12)),
    ("明晚8点", "明晚8点", at(11, 30, 20)),
    ("星期三晚上", "星期三晚上", at(12, 2, 19)),
    ("礼拜五早上9点", "礼拜五早上9点", at(12, 4, 9)),
    ("下周六下午", "下周六下午", at(12, 5, 14)),
    ("明天下午两点", "明天下午两点", at(11, 30, 14)),
    ("明天19:30以后", "明天19:30以后", at(11, 30, 19, 30)),
    ("下午3点", "下午3点", at(11, 29, 15)),             # still ahead today
    ("3点半", "3点半", at(11, 29, 15, 30)),              # a bare 1-6 o'clock is the afternoon
    ("2号上午", "2号上午", at(12, 2, 9)),
    ("11月2日上午", "11月2日上午", at(11, 2, 9, year=2027)),  # already past this year
    ("2027年1月5日下午", "2027年1月5日下午", at(1, 5, 14, year=2027)),
    ("下午2点到5点", "下午2点到5点", at(11, 29, 14)),
    ("明天", "明天", at(11, 30, 9)),                     # a day alone: the working day
])
def test_parse_visit(text, phrase, start):
    assert parse_visit(text, SUNDAY) == (phrase, start)


def test_weekday_naming_today_counts_while_its_window_is_ahead():
    """周日 said on Sunday 10:00: the afternoon is today, the morning is over so it is next Sunday."""
    assert parse_visit("周日下午", SUNDAY)[1] == at(11, 29, 14)
    assert parse_visit("周日晚上8点", SUNDAY)[1] == at(11, 29, 20)
    assert parse_visit("周日早上8点", SUNDAY)[1] == at(12, 6, 8)


def test_running_window_starts_now():
    assert parse_visit("上午", SUNDAY)[1] == SUNDAY
    assert parse_visit("今天", SUNDAY)[1] == SUNDAY


def test_time_already_past_today_means_tomorrow():
    assert parse_visit("上午9点", SUNDAY)[1] == at(11, 30, 9)


def test_explicit_today_is_kept_even_when_past():
    assert parse_visit("今天上午9点", SUNDAY)[1] == at(11, 29, 9)


def test_next_week_on_a_wednesday():
    wednesday = at(12, 2, 10)
    assert parse_visit("下周一上午", wednesday)[1] == at(12, 7, 9)
    assert parse_visit("周一上午", wednesday)[1] == at(12, 7, 9)
    assert parse_visit("这周五下午", wednesday)[1] == at(12, 4, 14)


def test_now_in_another_zone_is_read_in_shanghai():
    utc_now = datetime(2026, 11, 29, 17, 0, tzinfo=timezone.utc)   # already Monday 01:00 in Shanghai
    assert parse_visit("明天上午", utc_now)[1] == at(12, 1, 9)


def test_result_is_shanghai_aware():
    start = parse_visit("明天下午3点", SUNDAY)[1]
    assert start.utcoffset().total_seconds() == 8 * 3600


def test_naive_now_is_rejected():
    with pytest.raises(ValueError):
        parse_visit("明天", datetime(2026, 11, 29, 10, 0))


@pytest.mark.parametrize("text", ["", "漏了一点水", "3号楼", "3栋1502", "马桶堵了", "等了2个小时", "2026年装修的"])
def test_no_visit_phrase(text):
    assert parse_visit(text, SUNDAY) is None
