"""BR-5 category (hazard groups) and BR-8 trade of a fault description, from the operator-editable rules.toml."""
from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from conversations.hazard_model import HazardModel, load_model

TRADES = ("plumbing", "electrical", "hvac", "elevator", "civil", "doors_windows", "weak_current", "fire", "other")
FALLBACK_TRADE = "other"
MEMO_SIZE = 4096


@dataclass(frozen=True)
class Classification:
    category: str   # "emergency" | "daily" (BR-5; "planned" only comes from staff)
    trade: str      # one of TRADES


class Phrases:
    """A list of phrases compiled into one alternation: one regex scan per list, whatever its length."""

    __slots__ = ("phrases", "_pattern")

    def __init__(self, phrases: tuple[str, ...]) -> None:
        self.phrases = phrases
        # Longest first, so a blanking pass removes "打不着火" before "打不着".
        ordered = sorted(set(phrases), key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Phrases) and other.phrases == self.phrases

    def __hash__(self) -> int:
        return hash(self.phrases)

    def __repr__(self) -> str:
        return f"Phrases({self.phrases!r})"

    def found_in(self, text: str) -> bool:
        return self._pattern is not None and self._pattern.search(text) is not None

    def blank(self, text: str) -> str:
        # A separator, not "", so removing "打不着火" cannot glue its neighbours into a new phrase.
        return self._pattern.sub("|", text) if self._pattern is not None else text


@dataclass(frozen=True)
class TradeRule:
    trade: str
    keywords: Phrases
    exclude: Phrases


@dataclass(frozen=True)
class Hazard:
    """One kind of danger: a hazard phrase, with one of its objects and one of its extents when those are listed."""
    name: str
    hazard: Phrases
    object: Phrases     # empty: the hazard needs no object ("着火")
    extent: Phrases     # empty: any extent will do
    unless: Phrases     # any of these vetoes this group ("烟感" for "没电")
    firm: bool          # True: "不急" and the like do not lower it (fire, gas, people trapped or hurt)

    def matches(self, text: str, whole: str) -> bool:
        """text has the exclusions blanked out; `unless` looks at the whole text ("没有烟" is a reason too)."""
        return (self.hazard.found_in(text)
                and (not self.object or self.object.found_in(text))
                and (not self.extent or self.extent.found_in(text))
                and not self.unless.found_in(whole))


@dataclass(frozen=True)
class Rules:
    emergency: Phrases              # any one alone makes an emergency (the pre-hazard format; still honoured)
    emergency_exclusions: Phrases   # blanked out before anything is matched
    trades: tuple[TradeRule, ...]   # in file order: the first match wins
    hazards: tuple[Hazard, ...] = ()
    downgrade: Phrases = Phrases(())  # "不急": lowers every match except a firm hazard group
    model: HazardModel | None = None  # the learned second opinion ([model]); None: the phrases alone decide
    # One intake step classifies the same draft up to three times (summary, BR-4 check, ticket): remember it.
    memo: dict = field(default_factory=dict, init=False, compare=False, repr=False)


def load_rules(path: str | Path | None = None) -> Rules:
    """The packaged rules.toml when path is None, else an operator's file; ValueError names any problem."""
    if path is None:
        source = "conversations/rules.toml"
        folder = Path(str(resources.files("conversations")))
        text = (folder / "rules.toml").read_text(encoding="utf-8")
    else:
        folder = Path(path).parent
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{source}: cannot read rules file: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: not valid TOML: {exc}") from exc
    return _rules_from(data, source, folder)


def _rules_from(data: dict, source: str, folder: Path) -> Rules:
    unknown = set(data) - {"category", "hazard", "trade", "model"}
    if unknown:
        raise ValueError(f"{source}: unknown tables {sorted(unknown)} "
                         "(allowed: [category], [[hazard]], [[trade]], [model])")
    category = data.get("category")
    if not isinstance(category, dict):
        raise ValueError(f"{source}: missing [category] table")
    where = f"{source}: [category]"
    unknown = set(category) - {"emergency", "emergency_exclusions", "downgrade"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    hazard_tables = data.get("hazard", [])
    if not isinstance(hazard_tables, list):
        raise ValueError(f"{source}: hazard must be an array of tables ([[hazard]])")
    hazards = tuple(_hazard(table, f"{source}: [[hazard]] #{number}")
                    for number, table in enumerate(hazard_tables, start=1))
    names = [hazard.name for hazard in hazards]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ValueError(f"{source}: [[hazard]] names used twice: {duplicated}")
    # Without hazard groups the emergency keyword list is the only way to an emergency, so it must exist.
    emergency = _phrases(category, "emergency", where, required=not hazards)
    exclusions = _phrases(category, "emergency_exclusions", where, required=False)
    downgrade = _phrases(category, "downgrade", where, required=False)
    trade_tables = data.get("trade")
    if not isinstance(trade_tables, list) or not trade_tables:
        raise ValueError(f"{source}: no [[trade]] rules")
    trades = tuple(_trade_rule(table, f"{source}: [[trade]] #{number}")
                   for number, table in enumerate(trade_tables, start=1))
    model = _model(data.get("model"), source, folder, lambda text: exclusions.blank(_fold(text)))
    return Rules(emergency, exclusions, trades, hazards, downgrade, model)


def _model(table: object, source: str, folder: Path, prepare: Callable[[str], str]) -> HazardModel | None:
    if table is None:
        return None
    where = f"{source}: [model]"
    if not isinstance(table, dict):
        raise ValueError(f"{where}: must be a table")
    unknown = set(table) - {"examples", "threshold"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)} (allowed: examples, threshold)")
    examples = table.get("examples")
    if not isinstance(examples, str) or not examples.strip():
        raise ValueError(f"{where}: 'examples' must name a JSON-lines file (relative to the rules file)")
    threshold = table.get("threshold", 2.0)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ValueError(f"{where}: 'threshold' must be a number")
    # The model sees texts as classify() gives them: folded, exclusions blanked ("没有人" is not "有人").
    return load_model(folder / examples, float(threshold), where, prepare)


def _hazard(table: object, where: str) -> Hazard:
    if not isinstance(table, dict):
        raise ValueError(f"{where}: must be a table")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}: missing 'name'")
    where = f"{where} ({name})"
    unknown = set(table) - {"name", "hazard", "object", "extent", "unless", "firm"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)} (allowed: hazard, object, extent, unless, firm)")
    firm = table.get("firm", False)
    if not isinstance(firm, bool):
        raise ValueError(f"{where}: 'firm' must be true or false")
    return Hazard(name.strip(), _phrases(table, "hazard", where, required=True),
                  _phrases(table, "object", where, required=False), _phrases(table, "extent", where, required=False),
                  _phrases(table, "unless", where, required=False), firm)


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


def _phrases(table: dict, key: str, where: str, *, required: bool) -> Phrases:
    value = table.get(key, None if required else [])
    if value is None:
        raise ValueError(f"{where}: missing {key!r}")
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ValueError(f"{where}: {key!r} must be a list of non-empty strings")
    if required and not value:
        raise ValueError(f"{where}: {key!r} is empty")
    return Phrases(tuple(_fold(item.strip()) for item in value))


def _fold(text: str) -> str:
    # Full-width letters/digits and case must not decide a match.
    return unicodedata.normalize("NFKC", text).casefold()


def hazards_in(description: str, rules: Rules, location: str = "") -> list[Hazard]:
    """The hazard groups a report matches (the location names objects too: 地库, 配电房, 电梯井)."""
    whole = _fold(f"{description or ''} {location or ''}")
    text = rules.emergency_exclusions.blank(whole)
    return [hazard for hazard in rules.hazards if hazard.matches(text, whole)]


def is_emergency(description: str, rules: Rules, location: str = "") -> bool:
    """BR-5: a hazard group, an emergency phrase or the learned model's vote; a downgrade phrase ("不急") cancels
    all but firm groups."""
    whole = rules.emergency_exclusions.blank(_fold(f"{description or ''} {location or ''}"))
    matched = hazards_in(description, rules, location)
    if any(hazard.firm for hazard in matched):
        return True
    text = rules.emergency_exclusions.blank(_fold(description or ""))
    if not matched and not rules.emergency.found_in(text) and not (rules.model and rules.model.says_emergency(whole)):
        return False
    return not rules.downgrade.found_in(text)


def classify(description: str, rules: Rules, location: str = "") -> Classification:
    """BR-5 category (hazards, then emergency phrases) and BR-8 trade (first matching rule; the location breaks
    a tie only when the description names no trade at all)."""
    key = (description or "", location or "")
    known = rules.memo.get(key)
    if known is not None:
        return known
    trade = _trade(_fold(description or ""), rules)
    if trade == FALLBACK_TRADE and location:
        trade = _trade(_fold(f"{description or ''} {location}"), rules)
    result = Classification("emergency" if is_emergency(description, rules, location) else "daily", trade)
    if len(rules.memo) >= MEMO_SIZE:
        rules.memo.clear()
    rules.memo[key] = result
    return result


def _trade(text: str, rules: Rules) -> str:
    return next((rule.trade for rule in rules.trades if rule.keywords.found_in(rule.exclude.blank(text))),
                FALLBACK_TRADE)
