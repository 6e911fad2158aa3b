"""People behind platform accounts: reporters remembered for next time (staff: dispatch/roster.py)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import joinedload

from store.db import connection_of
from store.models import Person, PersonIdentity

# Roles that are nobody's staff: a resident, and a member of staff the configuration no longer names.
RESIDENT = "resident"
FORMER = "former"

PERSONS = Person.__table__
IDENTITIES = PersonIdentity.__table__

# Statements of the intake's hot path, built once (building one costs more than running it).
CONTACT = (select(PERSONS.c.id, PERSONS.c.name, PERSONS.c.phone, PERSONS.c.role)
           .join(IDENTITIES, IDENTITIES.c.person_id == PERSONS.c.id)
           .where(IDENTITIES.c.platform == bindparam("platform"), IDENTITIES.c.external_id == bindparam("external_id")))
SET_CONTACT = update(PERSONS).where(PERSONS.c.id == bindparam("person_id"))
NEW_PERSON = insert(PERSONS).returning(PERSONS.c.id)
NEW_IDENTITY = insert(IDENTITIES)


@dataclass(frozen=True)
class Contact:
    """Who is behind a platform account, without loading the person (the intake's hot path)."""

    id: int
    name: str
    phone: str
    role: str


async def person_for(session: AsyncSession, platform: str, external_id: str) -> Person | None:
    # The person and all their accounts in one statement (the accounts: where they are told things).
    found = select(PersonIdentity.person_id).where(PersonIdentity.platform == platform,
                                                   PersonIdentity.external_id == external_id)
    stmt = select(Person).where(Person.id.in_(found.scalar_subquery())).options(joinedload(Person.identities))
    return (await session.execute(stmt)).unique().scalar_one_or_none()


async def contact_for(db: AsyncSession | AsyncConnection, platform: str, external_id: str) -> Contact | None:
    row = (await (await connection_of(db)).execute(CONTACT, {"platform": platform, "external_id": external_id})).first()
    return Contact(*row) if row else None


async def remember_reporter(db: AsyncSession | AsyncConnection, platform: str, external_id: str, name: str,
                            phone: str, now: datetime, property: str = "default") -> int:
    """Find or create the reporter and keep their latest name and phone for the next report; their id.

    Staff who report a fault themselves keep the name and phone of their staff record.
    """
    conn = await connection_of(db)
    known = await contact_for(conn, platform, external_id)
    if known is not None:
        if known.role == "resident" and (known.name, known.phone) != (name, phone):
            await conn.execute(SET_CONTACT, {"person_id": known.id, "name": name, "phone": phone})
        return known.id
    person_id = (await conn.execute(NEW_PERSON, {
        "name": name, "phone": phone, "role": "resident", "trades": [], "created_at": now, "property": property,
    })).scalar_one()
    await conn.execute(NEW_IDENTITY, {"person_id": person_id, "platform": platform, "external_id": external_id})
    return person_id
