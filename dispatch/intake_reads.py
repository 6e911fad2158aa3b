"""A report's first lookups (the reporter, whether the estate has a unit list, an open duplicate) in one statement."""
from __future__ import annotations

# Why: a resident's first message usually names the fault and the place at once, and its step then asks the
# database three things one after the other: who this account is (a returning resident is not asked for name
# and phone again), whether the property has a unit list (conversations/intake.py `_check_place`), and whether
# an open ticket already covers the place and trade (BR-4). Asked together they cost one round trip instead of
# three (bench/intake.py). Each answer is used only for what it was read for: a step whose place or trade has
# changed since (the unit list renamed the place) asks again.

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, exists, literal, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from dispatch.people import CONTACT, Contact
from dispatch.statements import OPEN_DUPLICATE
from dispatch.tickets import OpenTicket
from store.models import Unit

_CONTACT = CONTACT.subquery("contact")
_DUPLICATE = OPEN_DUPLICATE.subquery("duplicate")
# Where each answer's columns sit in the row: has_units first, then the contact's, then the duplicate's.
_CONTACT_AT = slice(1, 1 + len(_CONTACT.c))
_DUPLICATE_AT = slice(_CONTACT_AT.stop, _CONTACT_AT.stop + len(_DUPLICATE.c))


def _statement(with_duplicate: bool):
    units = Unit.__table__
    has_units = exists(select(units.c.id).where(units.c.property == bindparam("property"))).label("has_units")
    one = select(literal(1).label("one")).subquery("one")
    stmt = select(has_units, *_CONTACT.c, *(_DUPLICATE.c if with_duplicate else ())).select_from(one)
    stmt = stmt.outerjoin(_CONTACT, true())
    if with_duplicate:
        stmt = stmt.outerjoin(_DUPLICATE, true())
    return stmt


# Built once: building a statement costs more than running it.
FIRST_READS = _statement(with_duplicate=True)
FIRST_READS_NO_PLACE = _statement(with_duplicate=False)


@dataclass(frozen=True)
class FirstReads:
    """What the first message's step needs to know; `duplicate_for` is the "location key|trade" it was read for."""

    contact: Contact | None
    has_units: bool
    duplicate: OpenTicket | None
    duplicate_for: str


async def first_reads(conn: AsyncConnection, *, platform: str, external_id: str, property: str,
                      location_key: str, trade: str, now: datetime, window: int) -> FirstReads:
    """One round trip; without a `location_key` the duplicate is not looked for (`duplicate_for` is empty)."""
    params = {"platform": platform, "external_id": external_id, "property": property}
    if location_key:
        params.update(location_key=location_key, trade=trade, since=now - timedelta(seconds=window))
    row = (await conn.execute(FIRST_READS if location_key else FIRST_READS_NO_PLACE, params)).first()
    contact = Contact(*row[_CONTACT_AT]) if row[_CONTACT_AT.start] is not None else None
    duplicate = OpenTicket(*row[_DUPLICATE_AT]) if location_key and row[_DUPLICATE_AT.start] is not None else None
    return FirstReads(contact, bool(row[0]), duplicate, f"{location_key}|{trade}" if location_key else "")
