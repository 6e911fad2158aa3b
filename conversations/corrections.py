"""Explicit corrections at any point of a conversation: `电话错了，是…`, `地址改成…`."""
from __future__ import annotations

import re

# Words a resident uses for each slot, mapped to the draft field it corrects.
_SLOT_WORDS = {
    "phone": "电话|手机号码|手机号|手机|号码|联系方式",
    "location": "地址|地点|位置|房号|门牌",
    "name": "名字|姓名|称呼|联系人",
    "description": "问题|故障|内容|描述",
    "visit": "上门时间|预约时间|时间",
    "area": "区域",
}
_MARKERS = r"(?:写?错了|不对|有误|改成|改为|换成|应该是|更正为|更正|是)"
_PATTERNS = [
    (slot, re.compile(rf"(?:{words})\s*(?:{_MARKERS})[\s,，:：。、]*(?:{_MARKERS})?[\s,，:：]*(?P<value>.*)$"))
    for slot, words in _SLOT_WORDS.items()
]
# Without a slot word: "改成…" / "不对，是…" still signals that the resident overrides something.
_GENERIC = re.compile(r"(?:改成|改为|更正为|更正|不对|错了|应该是)")


def parse_correction(text: str) -> tuple[str, str] | None:
    """(slot, the new value's text) when the message explicitly corrects one slot."""
    t = text.strip()
    for slot, pattern in _PATTERNS:
        m = pattern.search(t)
        if m:
            return slot, m.group("value").strip(" ，,。.!！")
    return None


def is_override(text: str) -> bool:
    """The resident says something earlier was wrong, so what this message says replaces it."""
    return bool(_GENERIC.search(text))
