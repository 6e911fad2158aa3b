"""The words the intake understands but never shows, from conversations/vocabulary.toml."""
from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def vocabulary() -> dict[str, Any]:
    return tomllib.loads((files("conversations") / "vocabulary.toml").read_text(encoding="utf-8"))
