"""Explicit corrections at any point of a conversation: `电话错了，是…`, `地址改成…`."""
from __future__ import annotations

import re
from collections.abc import Iterable

from conversations.vocabulary import vocabulary
from templates.words import alternation

# Markers between a slot's words and the new value (conversations/vocabulary.toml [corrections]).
_WORDS = vocabulary()["corrections"]
_MARKERS = f"(?:{alternation(_WORDS['markers'])})"
# Without a slot word: "改成…" / "不对，是…" still signals that the resident overrides something.
_GENERIC = re.compile(f"(?:{alternation(_WORDS['overrides'])})")
_VALUE_EDGES = " ，,。.!！"


def slot_words() -> dict[str, tuple[str, ...]]:
    """Each correctable slot's words, in the order they are tried (the first slot that fits wins)."""
    return {slot: tuple(words) for slot, words in _WORDS["slots"].items()}


def correction_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """A slot's words, a marker, then the new value: `电话错了，是139…`."""
    return re.compile(rf"(?:{alternation(tuple(words))})\s*{_MARKERS}[\s,，:：。、]*{_MARKERS}?[\s,，:：]*(?P<value>.*)$")


def parse_correction(text: str, slots: Iterable[tuple[str, re.Pattern[str]]]) -> tuple[str, str] | None:
    """(slot, the new value's text) when the message explicitly corrects one of the slots."""
    t = text.strip()
    for slot, pattern in slots:
        m = pattern.search(t)
        if m:
            return slot, m.group("value").strip(_VALUE_EDGES)
    return None


def is_override(text: str) -> bool:
    """The resident says something earlier was wrong, so what this message says replaces it."""
    return bool(_GENERIC.search(text))
