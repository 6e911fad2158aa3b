"""`repairbot units import FILE`: load the estate's own unit list (CSV or XLSX), all rows or none."""
from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from conversations.unit_list import UnitListError, load_file
from dispatch.units import current_places, store_places
from store.db import make_database, make_sessionmaker


def add_parser(sub: argparse._SubParsersAction) -> None:
    units = sub.add_parser("units", help="the estate's unit list (buildings, rooms, public places)")
    units_sub = units.add_subparsers(dest="units_command", required=True)
    imp = units_sub.add_parser("import", help="import a CSV or XLSX unit list (columns: building, unit, room, "
                                              "aliases, kind); a bad row imports nothing")
    imp.add_argument("file", type=Path)
    imp.add_argument("--config")
    imp.add_argument("--replace", action="store_true",
                     help="the file becomes the whole list (default: its rows are added to or update the list)")


def run(settings, args: argparse.Namespace) -> int:
    try:
        places = load_file(args.file)
    except UnitListError as e:
        print(f"{args.file}: nothing imported\n{e}", file=sys.stderr)
        return 1
    count = asyncio.run(import_places(settings, places, replace=args.replace))
    print(f"unit list of {settings.service.property!r}: {len(places)} rows imported, {count} places in all")
    return 0


async def import_places(settings, places, *, replace: bool) -> int:
    """Write the list in one transaction; re-importing the same file changes nothing (rows are keyed by place)."""
    database = make_database(settings.database.url, pool_size=1)
    try:
        async with make_sessionmaker(database)() as session, session.begin():
            prop = settings.service.property
            merged = {} if replace else {p[3]: p for p in await current_places(session, prop)}
            new = {p.key: (p.kind, p.building, p.label, p.key, p.aliases) for p in places}
            names_in_file = {k for p in new.values() for k in (p[3], *p[4])}
            # A kept place loses any alias the file now gives to another place.
            for key, (kind, building, label, k, aliases) in list(merged.items()):
                if key in names_in_file:
                    del merged[key]
                else:
                    merged[key] = (kind, building, label, k, tuple(a for a in aliases if a not in names_in_file))
            merged.update(new)
            return await store_places(session, prop, merged.values())
    finally:
        await database.dispose()
