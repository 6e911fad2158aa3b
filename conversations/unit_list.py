"""The estate's unit list: reading it from CSV or XLSX (all or nothing) and matching a resident's place to it."""
from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from conversations.extract import building_of, normalize_location
from conversations.vocabulary import rule_file

_RULES = rule_file("units.toml")
_SEPARATORS = re.compile("|".join(re.escape(s) for s in _RULES["alias_separators"]))
_KINDS = {word.lower(): kind for kind, words in _RULES["kinds"].items() for word in words}
COLUMNS = ("building", "unit", "room", "aliases", "kind")
NEAREST_CUTOFF = 0.75   # difflib ratio: 1520 for 1502 in the same unit is ~0.9, another building's room far less


class UnitListError(ValueError):
    """A file that cannot be imported; `problems` are (line number, what is wrong), every one of them."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__("\n".join(f"line {line}: {what}" for line, what in problems))
        self.problems = problems


@dataclass(frozen=True)
class Place:
    """One row of the list: its label (what residents see), kind, building and every key it is known by."""

    kind: str          # unit | public
    building: str      # building key ("3栋"); "" for a site-wide public place
    label: str
    key: str
    aliases: tuple[str, ...] = field(default_factory=tuple)   # keys of the aliases


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column: text}) of a CSV (UTF-8, with or without BOM) or XLSX file."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        yield from _xlsx_rows(path)
        return
    text = path.read_bytes().decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    yield from _with_header(((reader.line_num, row) for row in reader))


def _xlsx_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    from openpyxl import load_workbook

    # read_only streams the rows: an estate's sheet can be large and nothing is written back.
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        rows = ((n, ["" if v is None else str(v) for v in values])
                for n, values in enumerate(sheet.iter_rows(values_only=True), start=1))
        yield from _with_header(rows)
    finally:
        book.close()


def _with_header(rows: Iterable[tuple[int, list[str]]]) -> Iterator[tuple[int, dict[str, str]]]:
    header: list[str] | None = None
    for line, cells in rows:
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        if header is None:
            header = [c.lower() for c in cells]
            missing = [c for c in ("building", "room") if c not in header]
            unknown = [c for c in header if c and c not in COLUMNS]
            if missing or unknown:
                raise UnitListError([(line, f"the header needs the columns {', '.join(COLUMNS)} "
                                            f"(missing: {missing}, unknown: {unknown})")])
            continue
        yield line, {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header) if name}
    if header is None:
        raise UnitListError([(1, "the file is empty")])


def parse_places(rows: Iterable[tuple[int, dict[str, str]]]) -> list[Place]:
    """Every row checked; UnitListError lists each bad row by its line number, so nothing half-imports."""
    problems: list[tuple[int, str]] = []
    places: list[Place] = []
    owner: dict[str, int] = {}   # key -> line that claimed it
    for line, row in rows:
        kind = _KINDS.get((row.get("kind") or "unit").lower())
        building, unit, room = row.get("building", ""), row.get("unit", ""), row.get("room", "")
        if kind is None:
            problems.append((line, f"unknown kind {row.get('kind')!r} (unit or public)"))
            continue
        if not room:
            problems.append((line, "the room (or the public place's name) is empty"))
            continue
        if kind == "unit" and not building:
            problems.append((line, "a unit needs its building"))
            continue
        if unit.isdigit():
            unit += _RULES["unit_suffix"]
        label = f"{building}{unit}{room}"
        key = normalize_location(label)
        bkey = building_of(building) or normalize_location(building)
        aliases = tuple(a.strip() for a in _SEPARATORS.split(row.get("aliases", "")) if a.strip())
        alias_keys = tuple(dict.fromkeys(k for k in map(normalize_location, aliases) if k != key))
        if kind == "unit" and not any(ch.isdigit() for ch in room):
            problems.append((line, f"room {room!r} has no number"))
            continue
        clash = [k for k in (key, *alias_keys) if k in owner]
        if clash:
            problems.append((line, f"{label!r} names the same place as line {owner[clash[0]]}"))
            continue
        for k in (key, *alias_keys):
            owner[k] = line
        places.append(Place(kind, bkey, label, key, alias_keys))
    if problems:
        raise UnitListError(problems)
    return places


def load_file(path: Path) -> list[Place]:
    try:
        return parse_places(read_rows(path))
    except UnicodeDecodeError:
        raise UnitListError([(1, "not UTF-8 text (save the CSV as UTF-8, or import the XLSX)")])
    except (OSError, KeyError, ValueError) as e:
        if isinstance(e, UnitListError):
            raise
        raise UnitListError([(1, f"cannot read the file: {e}")])


_ROOM = re.compile(r"^(.*\d)(\D*)$")


def split_room(key: str) -> tuple[str, str]:
    """"3栋2单元1520卫生间" -> ("3栋2单元1520", "卫生间"): the part the list can hold, and the rest."""
    match = _ROOM.match(key)
    return (match.group(1), match.group(2)) if match else (key, "")


def nearest(key: str, keys: Iterable[str]) -> str | None:
    """The closest real place to a key the list does not know, or None when nothing is close."""
    building = building_of(key)
    pool = [k for k in keys if not building or k.startswith(building)]
    found = difflib.get_close_matches(key, pool, n=1, cutoff=NEAREST_CUTOFF)
    return found[0] if found else None
