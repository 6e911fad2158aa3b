"""Greeting, emoji-only, meaningless and too-long message detection."""
from __future__ import annotations

import pytest

from conversations.textcheck import MAX_CHARS, cn_int, fold_width, is_greeting, is_meaningless, is_too_long


@pytest.mark.parametrize("text", [
    "你好", "您好！", "在吗？", "hi", "Hello", "哈喽~", "早上好", "物业你好", "你好，在吗", "您好😊", "在不在啊",
    "你好[微笑]", " 晚上好 ",
])
def test_is_greeting(text):
    assert is_greeting(text)


@pytest.mark.parametrize("text", [
    "你好，厨房漏水", "3栋1502", "物业", "hidden", "早点来修", "", "😊", "你好 13811112222",
])
def test_not_greeting(text):
    assert not is_greeting(text)


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "😀😀", "👍🏻", "❤️", "。。。", "？？!", "[微笑][捂脸]", "…"])
def test_is_meaningless(text):
    assert is_meaningless(text)


@pytest.mark.parametrize("text", ["漏水", "1502", "ok", "你好", "😀灯坏了"])
def test_not_meaningless(text):
    assert not is_meaningless(text)


def test_is_too_long_counts_after_strip():
    assert not is_too_long("漏" * MAX_CHARS)
    assert not is_too_long("  " + "漏" * MAX_CHARS + "\n")
    assert is_too_long("漏" * (MAX_CHARS + 1))
    assert MAX_CHARS == 500


def test_fold_width_keeps_length():
    assert fold_width("３栋２单元１５０２，Ａ座　") == "3栋2单元1502,A座 "


@pytest.mark.parametrize("numeral, value", [
    ("12", 12), ("三", 3), ("十", 10), ("十二", 12), ("二十", 20), ("二十一", 21), ("两", 2), ("一百零一", 101),
    ("abc", None), ("", None),
])
def test_cn_int(numeral, value):
    assert cn_int(numeral) == value
