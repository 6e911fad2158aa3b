"""BR-5 category and BR-8 trade of a fault description, from the operator-editable rules.toml."""
from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

TRADES = ("plumbing", "electrical", "hvac", "elevator", "civil", "doors_windows", "weak_current", "fire", "other")
FALLBACK_TRADE = "other"


@dataclass(frozen=True)
class Classification:
    category: str   # "emergency" | "daily" (BR-5; "planned" only comes from staff)
    trade: str      # one of TRADES


@dataclass(frozen=True)
class TradeRule:
    trade: str
    keywords: tuple[str, ...]
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rules:
    emergency: tuple[str, ...]
    emergency_exclusions: tuple[str, ...]
    trades: tuple[TradeRule, ...]   # in file order: the first match wins


def load_rules(path: str | Path | None = None) -> Rules:
    """The packaged rules.toml when path is None, else an operator's file; ValueError names any problem."""
    if path is None:
        source = "conversations/rules.toml"
        text = resources.files("conversations").joinpath("rules.toml").read_text(encoding="utf-8")
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{source}: cannot read rules file: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: not valid TOML: {exc}") from exc
    return _rules_from(data, source)


def _rules_from(data: dict, source: str) -> Rules:
    category = data.get("category")
    if not isinstance(category, dict):
        raise ValueError(f"{source}: missing [category] table")
    emergency = _phrases(category, "emergency", f"{source}: [category]", required=True)
    exclusions = _phrases(category, "emergency_exclusions", f"{source}: [category]", required=False)
    trade_tables = data.get("trade")
    if not isinstance(trade_tables, list) or not trade_tables:
        raise ValueError(f"{source}: no [[trade]] rules")
    trades = tuple(_trade_rule(table, f"{source}: [[trade]] #{number}")
                   for number, table in enumerate(trade_tables, start=1))
    return Rules(emergency, exclusions, trades)


def _trade_rule(table: object, where: str) -> TradeRule:
    if not isinstance(table, dict):
        raise ValueError(f"{where}: must be a table")
    name = table.get("name")
    if name not in TRADES:
        raise ValueError(f"{where}: unknown trade name {name!r} (allowed: {', '.join(TRADES)})")
    unknown = set(table) - {"name", "keywords", "exclude"}
    if unknown:
        raise ValueError(f"{where} ({name}): unknown keys {sorted(unknown)}")
    return TradeRule(name, _phrases(table, "keywords", f"{where} ({name})", required=True),
                     _phrases(table, "exclude", f"{where} ({name})", required=False))


def _phrases(table: dict, key: str, where: str, *, required: bool) -> tuple[str, ...]:
    value = table.get(key, None if required else [])
    if value is None:
        raise ValueError(f"{where}: missing {key!r}")
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ValueError(f"{where}: {key!r} must be a list of non-empty strings")
    if required and not value:
        raise ValueError(f"{where}: {key!r} is empty")
    return tuple(_fold(item.strip()) for item in value)


def _fold(text: str) -> str:
    # Full-width letters/digits and case must not decide a match.
    return unicodedata.normalize("NFKC", text).casefold()


def _without(text: str, phrases: tuple[str, ...]) -> str:
    # A separator, not "", so removing "打不着火" cannot glue its neighbours into a new keyword.
    for phrase in sorted(phrases, key=len, reverse=True):
        text = text.replace(phrase, "|")
    return text


def _contains_any(text: str, keywords: tuple[str, ...]) -> bool:
    return any(keyword in text for keyword in keywords)


def classify(description: str, rules: Rules) -> Classification:
    """BR-5 category (emergency keywords minus exclusions) and BR-8 trade (first matching rule)."""
    text = _fold(description or "")
    emergency = _contains_any(_without(text, rules.emergency_exclusions), rules.emergency)
    trade = next((rule.trade for rule in rules.trades if _contains_any(_without(text, rule.exclude), rule.keywords)),
                 FALLBACK_TRADE)
    return Classification("emergency" if emergency else "daily", trade)
