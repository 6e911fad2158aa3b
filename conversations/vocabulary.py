"""The words the intake understands but never shows: conversations/*.toml, read once, and regexes built from them."""
from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from functools import cache
from importlib.resources import files
from typing import Any

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@cache
def rule_file(name: str) -> dict[str, Any]:
    """conversations/<name> (a TOML file shipped with the package), parsed once."""
    return tomllib.loads((files("conversations") / name).read_text(encoding="utf-8"))


def vocabulary() -> dict[str, Any]:
    return rule_file("vocabulary.toml")


def either(words: Iterable[str]) -> str:
    """Words as one regex alternation in the order given: the first that fits wins, so list longer words first."""
    return "|".join(map(re.escape, words))


def longest_first(words: Iterable[str]) -> str:
    """Words as one regex alternation, longest first whatever their order in the file."""
    return either(sorted(words, key=len, reverse=True))


def pattern(table: dict[str, Any], key: str, **parts: str) -> str:
    """table[key] as a regex: line breaks (there for reading) dropped, every {name} filled in.

    A {name} is parts[name] when given, else table[name]: a list of words becomes an alternation in file order,
    a string is a pattern of its own (filled the same way). Regex counts such as {2,4} are not names.
    """
    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name in parts:
            return parts[name]
        value = table[name]
        return either(value) if isinstance(value, list) else pattern(table, name, **parts)

    return _PLACEHOLDER.sub(fill, table[key].replace("\n", ""))
