"""Labels people press and the words they type for them, loaded from TOML and compiled into matchers."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any


def alternation(words: list[str] | tuple[str, ...]) -> str:
    """`a|b|c` of literal words, in the order given (a longer word listed first wins where both fit)."""
    return "|".join(re.escape(w) for w in words)


@dataclass(frozen=True)
class Choice:
    """One thing a person can choose: its label, and the words that count as choosing it."""

    key: str
    label: str = ""
    words: tuple[str, ...] = ()      # the whole message, then nothing but `trailing`
    contains: tuple[str, ...] = ()   # anywhere in the message
    trailing: str = ""
    ignore_case: bool = False
    pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_toml(cls, key: str, raw: dict[str, Any]) -> Choice:
        words, contains, trailing = tuple(raw.get("words", ())), tuple(raw.get("contains", ())), raw.get("trailing", "")
        parts = []
        if words:
            tail = f"[{re.escape(trailing)}]*" if trailing else ""
            parts.append(f"^(?:{alternation(words)}){tail}$")
        if contains:
            parts.append(alternation(contains))
        flags = re.IGNORECASE if raw.get("ignore_case") else 0
        pattern = re.compile("|".join(parts), flags) if parts else None
        return cls(key, raw.get("label", ""), words, contains, trailing, bool(raw.get("ignore_case")), pattern)

    def matches(self, text: str) -> bool:
        return self.pattern is not None and self.pattern.search(text.strip()) is not None


@cache
def choices(name: str) -> dict[str, Choice]:
    """templates/labels/<name>.toml in buttons.toml's format, compiled."""
    raw = tomllib.loads((files("templates") / "labels" / f"{name}.toml").read_text(encoding="utf-8"))
    return {key: Choice.from_toml(key, value) for key, value in raw.items()}


def buttons() -> dict[str, Choice]:
    """templates/labels/buttons.toml: the intake's quick answers and the words of its fallbacks."""
    return choices("buttons")


def button(key: str) -> str:
    """The label of a button (what the resident sees and may type): `button("confirm")`."""
    return buttons()[key].label


def labels(*keys: str) -> tuple[str, ...]:
    return tuple(button(k) for k in keys)
