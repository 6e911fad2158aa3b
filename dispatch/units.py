"""The estate's unit list in the database: replaced in one transaction, looked up by a place's key."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import case, delete, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.statuses import OPEN
from store.models import Ticket, Unit, UnitName


@dataclass(frozen=True)
class KnownPlace:
    kind: str        # unit | public
    building: str
    label: str
    key: str


async def has_units(db: AsyncSession, property: str) -> bool:
    return (await db.execute(select(Unit.id).where(Unit.property == property).limit(1))).first() is not None


async def find_place(db: AsyncSession, property: str, key: str) -> tuple[KnownPlace, str] | None:
    """The place a key names, by its own key or an alias, and what the key says beyond it ("3栋2单元1502卫生间":
    the room 3栋2单元1502 and 卫生间); the longest listed name wins."""
    prefixes = [key[:n] for n in range(len(key), 1, -1)]
    if not prefixes:
        return None
    rows = (await db.execute(
        select(Unit.kind, Unit.building, Unit.label, Unit.key, UnitName.key).join(UnitName, UnitName.unit_id == Unit.id)
        .where(UnitName.property == property, UnitName.key.in_(prefixes)))).all()
    if not rows:
        return None
    *place, name = max(rows, key=lambda row: len(row[-1]))
    return KnownPlace(*place), key[len(name):]


async def name_in(db: AsyncSession, property: str, text_key: str) -> tuple[KnownPlace, int] | None:
    """The longest listed name (a place's own or an alias) inside a whole message's key, and where it ends there:
    for names the extractor does not read as a place ("老干部楼1502", "老年活动中心")."""
    if len(text_key) < 2:
        return None
    # Keys hold no LIKE wildcards: normalize_location removes "%" and "_" with the other punctuation.
    rows = (await db.execute(
        select(Unit.kind, Unit.building, Unit.label, Unit.key, UnitName.key).join(UnitName, UnitName.unit_id == Unit.id)
        .where(UnitName.property == property, func.length(UnitName.key) >= 2,
               literal(text_key).contains(UnitName.key)))).all()
    found = [(row, end) for row in rows if (end := _whole_name_end(text_key, row[-1])) is not None]
    if not found:
        return None
    (*place, _), end = max(found, key=lambda item: len(item[0][-1]))
    return KnownPlace(*place), end


def _whole_name_end(text: str, name: str) -> int | None:
    """Where name ends in text, as a whole: room 152 is not inside 1520."""
    start = text.find(name)
    while start >= 0:
        end = start + len(name)
        if not (start and text[start - 1].isdigit() and name[0].isdigit()) and \
                not (end < len(text) and text[end].isdigit() and name[-1].isdigit()):
            return end
        start = text.find(name, start + 1)
    return None


async def rooms_named(db: AsyncSession, property: str, room: str) -> list[KnownPlace]:
    """The listed units whose room is `room` ("1502", "2单元1502") in any building, by their own key or an alias."""
    rows = (await db.execute(
        select(Unit.kind, Unit.building, Unit.label, Unit.key, UnitName.key).join(UnitName, UnitName.unit_id == Unit.id)
        .where(UnitName.property == property, Unit.kind == "unit", UnitName.key.endswith(room)))).all()
    found: dict[str, KnownPlace] = {}
    for *place, name in rows:
        before = name[:-len(room)]
        if not before or not before[-1].isdigit():   # 1502 is not 11502
            found.setdefault(place[2], KnownPlace(*place))
    return [found[label] for label in sorted(found)]


async def place_keys(db: AsyncSession, property: str, building: str = "") -> dict[str, KnownPlace]:
    """Every place's own key (of one building when given): the candidates for "did you mean"."""
    stmt = select(Unit.kind, Unit.building, Unit.label, Unit.key).where(Unit.property == property)
    if building:
        stmt = stmt.where(Unit.building == building)
    return {row.key: KnownPlace(*row) for row in await db.execute(stmt)}


async def current_places(db: AsyncSession, property: str) -> list[tuple[str, str, str, str, tuple[str, ...]]]:
    """The stored list as (kind, building, label, key, alias keys), for a merging import."""
    units = {u.id: u for u in (await db.execute(select(Unit).where(Unit.property == property))).scalars()}
    aliases: dict[int, list[str]] = {i: [] for i in units}
    for unit_id, key in await db.execute(select(UnitName.unit_id, UnitName.key).where(UnitName.property == property)):
        if key != units[unit_id].key:
            aliases[unit_id].append(key)
    return [(u.kind, u.building, u.label, u.key, tuple(aliases[i])) for i, u in units.items()]


async def store_places(db: AsyncSession, property: str,
                       places: Iterable[tuple[str, str, str, str, tuple[str, ...]]]) -> int:
    """Make the property's list exactly `places` (the caller commits: all or nothing)."""
    await db.execute(delete(UnitName).where(UnitName.property == property))
    await db.execute(delete(Unit).where(Unit.property == property))
    count = 0
    for kind, building, label, key, alias_keys in places:
        unit = Unit(property=property, kind=kind, building=building, label=label, key=key)
        db.add(unit)
        await db.flush()
        db.add_all(UnitName(property=property, key=k, unit_id=unit.id) for k in (key, *alias_keys))
        count += 1
    await db.flush()
    return count


async def building_counts(db: AsyncSession, property: str | None = None) -> list[tuple[str, int, int]]:
    """(building, open tickets, all tickets) per building, "" for tickets whose place names none."""
    is_open = case((Ticket.status.in_(sorted(OPEN)), 1), else_=0)
    stmt = (select(Ticket.building, func.sum(is_open), func.count(Ticket.id))
            .group_by(Ticket.building).order_by(Ticket.building))
    if property:
        stmt = stmt.where(Ticket.property == property)
    counts = {b: (int(o or 0), int(t)) for b, o, t in await db.execute(stmt)}
    if property:
        listed = (await db.execute(select(Unit.building).where(Unit.property == property).distinct())).scalars()
        for building in listed:
            counts.setdefault(building, (0, 0))
    return [(b, *counts[b]) for b in sorted(counts)]
