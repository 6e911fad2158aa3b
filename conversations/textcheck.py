"""Cheap checks and normalizers for raw resident chat text: greetings, emoji-only, too long, numerals."""
from __future__ import annotations

import re
import unicodedata

from conversations.vocabulary import vocabulary

MAX_CHARS = 500

# Chat clients send stickers/emoji as bracketed codes ("[微笑]", "[捂脸]", "[OK]"), not as Unicode emoji.
_EMOJI_CODE = re.compile(r"\[[\u4e00-\u9fffA-Za-z]{1,6}\]")

_WORDS = vocabulary()
_GREETINGS = tuple(_WORDS["greeting"]["greetings"])
# Forms of address and particles only count as part of a greeting ("物业你好"), never alone.
_GREETING_TOKENS = sorted({*_GREETINGS, *_WORDS["greeting"]["address"], *_WORDS["greeting"]["particles"]},
                          key=len, reverse=True)

_CN_DIGITS: dict[str, int] = _WORDS["numerals"]["digits"]
_CN_UNITS: dict[str, int] = _WORDS["numerals"]["units"]
_FULLWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def _simplified_table() -> dict[int, str]:
    """Each traditional character of the common CJK block to its simplified form, one for one (OpenCC's t2s)."""
    import opencc

    chars = [chr(code) for code in range(0x4E00, 0xA000)]
    # One per line, so OpenCC's phrase table never joins neighbours and each character maps on its own.
    converted = opencc.OpenCC("t2s").convert("\n".join(chars)).split("\n")
    return {ord(t): s for t, s in zip(chars, converted) if t != s and len(s) == 1}


# Residents of Hong Kong, Macao and Taiwan (and their phones) write 單元, 樓, 電梯, 漏水: the rules are written once,
# in simplified characters, and folding maps the rest onto them.
_FOLD = {**_FULLWIDTH, **_simplified_table()}


def fold_width(text: str) -> str:
    """Full-width ASCII to half-width, one char for one char so match offsets stay valid in the original."""
    return text.translate(_FULLWIDTH)


def fold(text: str) -> str:
    """`fold_width`, and traditional characters to simplified: the text as the rules read it, offsets unchanged."""
    return text.translate(_FOLD)


def cn_int(numeral: str) -> int | None:
    """"12" / "十二" / "二十一" / "两" / "一百零一" -> int; None when it is not a number below 1000."""
    if numeral.isdigit():
        return int(numeral)
    if not numeral or any(ch not in _CN_DIGITS and ch not in _CN_UNITS for ch in numeral):
        return None
    total, digit = 0, None
    for ch in numeral:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
            continue
        unit = _CN_UNITS[ch]
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
