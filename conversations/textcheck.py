"""Cheap checks and normalizers for raw resident chat text: greetings, emoji-only, too long, numerals."""
from __future__ import annotations

import re
import unicodedata

MAX_CHARS = 500

# Chat clients send stickers/emoji as bracketed codes ("[微笑]", "[捂脸]", "[OK]"), not as Unicode emoji.
_EMOJI_CODE = re.compile(r"\[[\u4e00-\u9fffA-Za-z]{1,6}\]")

_GREETINGS = (
    "你好", "您好", "你们好", "大家好", "在吗", "在不在", "在么", "有人吗", "有人在吗", "有没有人",
    "哈喽", "哈啰", "哈罗", "嗨", "早上好", "上午好", "中午好", "下午好", "晚上好", "早安", "午安",
    "早", "打扰了", "打扰一下", "hello", "hi", "hey", "hallo", "喂",
)
# Forms of address that only count as part of a greeting ("物业你好"), never alone.
_ADDRESS = ("物业", "管家", "客服", "师傅", "老师", "亲", "请问", "您", "你")
_PARTICLES = ("啊", "呀", "呢", "哈", "吖", "哦", "喔", "噢", "嘛", "啦", "～", "~")
_GREETING_TOKENS = sorted({*_GREETINGS, *_ADDRESS, *_PARTICLES}, key=len, reverse=True)

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_FULLWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def fold_width(text: str) -> str:
    """Full-width ASCII to half-width, one char for one char so match offsets stay valid in the original."""
    return text.translate(_FULLWIDTH)


def cn_int(numeral: str) -> int | None:
    """"12" / "十二" / "二十一" / "两" / "一百零一" -> int; None when it is not a number below 1000."""
    if numeral.isdigit():
        return int(numeral)
    if not numeral or any(ch not in _CN_DIGITS and ch not in "十百" for ch in numeral):
        return None
    total, digit = 0, None
    for ch in numeral:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
            continue
        unit = 10 if ch == "十" else 100
        # "十二" has no leading digit: the tens digit is an implied one.
        total += (1 if digit is None else digit) * unit
        digit = None
    return total + (digit or 0)


def _strip_noise(text: str) -> str:
    """Drop emoji codes and every char that is not a letter or a digit (punctuation, symbols, emoji, spaces)."""
    text = _EMOJI_CODE.sub("", fold_width(text))
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


def is_meaningless(text: str) -> bool:
    """Empty, whitespace, emoji-only (Unicode or bracketed codes) or punctuation-only."""
    return not _strip_noise(text)


def is_too_long(text: str) -> bool:
    return len(text.strip()) > MAX_CHARS


def is_greeting(text: str) -> bool:
    """The whole message is a greeting, maybe with an address word, particles, punctuation or emoji."""
    rest = _strip_noise(text).casefold()
    saw_greeting = False
    while rest:
        token = next((t for t in _GREETING_TOKENS if rest.startswith(t)), None)
        if token is None:
            return False
        saw_greeting = saw_greeting or token in _GREETINGS
        rest = rest[len(token):]
    return saw_greeting
