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
from conversations.textcheck import fold

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

    def split(self, text: str) -> list[str]:
        return self._pattern.split(text) if self._pattern is not None else [text]

    def after(self, text: str) -> str:
        """text after the last phrase in it ("消防栓旁边那个插座" -> "插座"); all of it when none is."""
        matches = list(self._pattern.finditer(text)) if self._pattern is not None else []
        return text[matches[-1].end():] if matches else text

    def cut(self, text: str) -> str:
        """text up to the end of the first phrase in it ("滴到电视上" -> "滴到"); all of it when none is."""
        match = self._pattern.search(text) if self._pattern is not None else None
        return text[:match.end()] if match else text


class Spellings:
    """Common misspellings (pinyin input's homophones: 空跳, 插做, 吊定) put right before anything is matched."""

    __slots__ = ("right", "_pattern")

    def __init__(self, right: dict[str, str]) -> None:
        self.right = right   # misspelling -> the word meant
        ordered = sorted(right, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Spellings) and other.right == self.right

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.right.items())))

    def __repr__(self) -> str:
        return f"Spellings({self.right!r})"

    def fix(self, text: str) -> str:
        return self._pattern.sub(lambda m: self.right[m.group()], text) if self._pattern is not None else text


@dataclass(frozen=True)
class TradeRule:
    trade: str
    keywords: Phrases
    exclude: Phrases
    together: Phrases = Phrases(())   # `with`: one of these must be there too ("墙" with "裂")
    places: Phrases = Phrases(())     # found in the location, the rule matches whatever the description says
    unless: Phrases = Phrases(())     # any of these in the text and the rule does not match ("水管" for "跳闸")

    def matches(self, text: str, location: str = "", whole: str = "") -> bool:
        """`whole`: the report's every clause, asides included, where `unless` looks besides `text` and the place."""
        if self.places.found_in(location):
            return True
        if any(self.unless.found_in(part) for part in (text, location, whole)):
            return False
        text = self.exclude.blank(text)
        return self.keywords.found_in(text) and (not self.together or self.together.found_in(text))


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
        """text has the exclusions blanked out; `unless` looks at the text before blanking ("没有烟" is a reason
        too)."""
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
    separators: Phrases = Phrases(())  # "另外": two faults, each matched against the hazard groups on its own
    reach: Phrases = Phrases(())       # "滴到": the rest of the clause is where damage reaches, not the trade
    aside: Phrases = Phrases(())       # "也": a clause naming a second thing, read for the trade only as a tie
    model_unless: Phrases = Phrases(())  # "没有人", "有点": the model's vote alone does not make an emergency
    spellings: Spellings = Spellings({})  # "空跳" -> "空调", before anything is matched
    strengthening: Phrases = Phrases(())  # "有点严重": not read by `unless` (its 有点 does not soften)
    landmark: Phrases = Phrases(())    # "旁边的": what the clause names before it is a landmark, not the trade
    where: tuple[str, ...] = ()        # "旁边" ending a clause: it only says where, read only as a tie
    # One intake step classifies the same draft up to three times (summary, BR-4 check, ticket): remember it.
    memo: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def prepare(self, text: str) -> str:
        """A text as the phrases are matched against it: folded (width, case) and its misspellings put right."""
        return self.spellings.fix(_fold(text or ""))


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
    unknown = set(data) - {"category", "hazard", "trade", "trade_context", "spellings", "model"}
    if unknown:
        raise ValueError(f"{source}: unknown tables {sorted(unknown)} "
                         "(allowed: [category], [[hazard]], [[trade]], [trade_context], [spellings], [model])")
    category = data.get("category")
    if not isinstance(category, dict):
        raise ValueError(f"{source}: missing [category] table")
    where = f"{source}: [category]"
    unknown = set(category) - {"emergency", "emergency_exclusions", "downgrade", "separators", "strengthening"}
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
    separators = _phrases(category, "separators", where, required=False)
    strengthening = _phrases(category, "strengthening", where, required=False)
    trade_tables = data.get("trade")
    if not isinstance(trade_tables, list) or not trade_tables:
        raise ValueError(f"{source}: no [[trade]] rules")
    trades = tuple(_trade_rule(table, f"{source}: [[trade]] #{number}")
                   for number, table in enumerate(trade_tables, start=1))
    reach, aside, landmark, where_words = _trade_context(data.get("trade_context", {}), f"{source}: [trade_context]")
    spellings = _spellings(data.get("spellings", {}), f"{source}: [spellings]")
    model, model_unless = _model(data.get("model"), source, folder,
                                 lambda text: exclusions.blank(spellings.fix(_fold(text))))
    return Rules(emergency, exclusions, trades, hazards, downgrade, model, separators, reach, aside, model_unless,
                 spellings, strengthening, landmark, where_words.phrases)


def _spellings(table: object, where: str) -> Spellings:
    if not isinstance(table, dict):
        raise ValueError(f"{where}: must be a table of \"word\" = [\"misspelling\", ...]")
    right: dict[str, str] = {}
    for word, wrongs in table.items():
        listed = isinstance(wrongs, list) and all(isinstance(w, str) and w.strip() for w in wrongs)
        if not word.strip() or not listed:
            raise ValueError(f"{where}: {word!r} must be a list of non-empty misspellings")
        for wrong in wrongs:
            wrong = _fold(wrong.strip())
            if wrong in right:
                raise ValueError(f"{where}: {wrong!r} is listed for both {right[wrong]!r} and {word!r}")
            right[wrong] = _fold(word.strip())
    return Spellings(right)


def _trade_context(table: object, where: str) -> tuple[Phrases, Phrases, Phrases, Phrases]:
    if not isinstance(table, dict):
        raise ValueError(f"{where}: must be a table")
    keys = ("reach", "aside", "landmark", "where")
    unknown = set(table) - set(keys)
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)} (allowed: {', '.join(keys)})")
    return tuple(_phrases(table, key, where, required=False) for key in keys)


def _model(table: object, source: str, folder: Path,
           prepare: Callable[[str], str]) -> tuple[HazardModel | None, Phrases]:
    if table is None:
        return None, Phrases(())
    where = f"{source}: [model]"
    if not isinstance(table, dict):
        raise ValueError(f"{where}: must be a table")
    unknown = set(table) - {"examples", "threshold", "unless"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)} (allowed: examples, threshold, unless)")
    examples = table.get("examples")
    if not isinstance(examples, str) or not examples.strip():
        raise ValueError(f"{where}: 'examples' must name a JSON-lines file (relative to the rules file)")
    threshold = table.get("threshold", 2.0)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ValueError(f"{where}: 'threshold' must be a number")
    unless = _phrases(table, "unless", where, required=False)
    # The model sees texts as classify() gives them: folded, exclusions blanked ("没有人" is not "有人").
    return load_model(folder / examples, float(threshold), where, prepare), unless


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
    unknown = set(table) - {"name", "keywords", "exclude", "with", "places", "unless"}
    if unknown:
        raise ValueError(f"{where} ({name}): unknown keys {sorted(unknown)} "
                         "(allowed: keywords, exclude, with, places, unless)")
    where = f"{where} ({name})"
    places = _phrases(table, "places", where, required=False)
    # A rule needs keywords, or places when it is about the place itself (the fountain, the pool).
    return TradeRule(name, _phrases(table, "keywords", where, required=not places),
                     _phrases(table, "exclude", where, required=False), _phrases(table, "with", where, required=False),
                     places, _phrases(table, "unless", where, required=False))


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
    return fold(unicodedata.normalize("NFKC", text)).casefold()


def hazards_in(description: str, rules: Rules, location: str = "") -> list[Hazard]:
    """The hazard groups a report matches (the location names objects too: 地库, 配电房, 电梯井). Each fault of a
    report with two ("水龙头漏水 另外插座不通电") is matched on its own, so their words do not make one hazard."""
    place = rules.prepare(location)
    matched: dict[str, Hazard] = {}
    for part in rules.separators.split(rules.prepare(description)):
        whole = rules.strengthening.blank(f"{part} {place}")
        text = rules.emergency_exclusions.blank(whole)
        matched.update((hazard.name, hazard) for hazard in rules.hazards if hazard.matches(text, whole))
    return [hazard for hazard in rules.hazards if hazard.name in matched]


def is_emergency(description: str, rules: Rules, location: str = "") -> bool:
    """BR-5: a hazard group, an emergency phrase or the learned model's vote; a downgrade phrase ("不急") cancels
    all but firm groups."""
    whole = rules.emergency_exclusions.blank(rules.prepare(f"{description or ''} {location or ''}"))
    matched = hazards_in(description, rules, location)
    if any(hazard.firm for hazard in matched):
        return True
    folded = rules.prepare(description)
    text = rules.emergency_exclusions.blank(folded)
    if not matched and not rules.emergency.found_in(text) and not _model_votes(rules, whole, folded):
        return False
    return not rules.downgrade.found_in(text)


def _model_votes(rules: Rules, text: str, description: str) -> bool:
    # `unless` looks at the description before blanking: "没有人" is the reason the model must keep quiet.
    return bool(rules.model) and not rules.model_unless.found_in(description) and rules.model.says_emergency(text)


def classify(description: str, rules: Rules, location: str = "") -> Classification:
    """BR-5 category (hazards, then emergency phrases) and BR-8 trade (first matching rule; the location breaks
    a tie only when the description names no trade at all)."""
    key = (description or "", location or "")
    known = rules.memo.get(key)
    if known is not None:
        return known
    trade = _trade_of(rules.prepare(description), rules, rules.prepare(location))
    result = Classification("emergency" if is_emergency(description, rules, location) else "daily", trade)
    if len(rules.memo) >= MEMO_SIZE:
        rules.memo.clear()
    rules.memo[key] = result
    return result


# Clauses end at punctuation and spaces (residents separate clauses with spaces more than with commas).
_CLAUSE_BREAK = re.compile(r"[\s,，。!！?？;；、]+")


def _trade_of(description: str, rules: Rules, location: str) -> str:
    """The trade of the fault itself: not of what its water drips on (reach), nor of what "also" stopped (aside);
    the place only when the description names no trade at all."""
    main, aside = [], []
    for clause in _CLAUSE_BREAK.split(description):
        if clause:
            clause = rules.reach.cut(rules.landmark.after(clause))
            side = rules.aside.found_in(clause) or (rules.where and clause.endswith(rules.where))
            (aside if side else main).append(clause)
    texts = [" ".join(main)]
    if aside:
        texts.append(" ".join(main + aside))
    if location:
        texts.append(f"{texts[-1]} {location}")
    for text in texts:
        trade = next((rule.trade for rule in rules.trades if rule.matches(text, location, description)), None)
        if trade is not None:
            return trade
    return FALLBACK_TRADE
