"""People behind platform accounts: reporters remembered for next time, staff synced from settings."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from store.db import connection_of
from store.models import Person, PersonIdentity

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


def is_staff(role: str | None) -> bool:
    """Whether a person's role lets them look at any ticket (`查询`); residents see only their own.

    One place to decide it, so a later marker (a former member of staff, say) changes one line.
    """
    return role is not None and role != "resident"


async def person_for(session: AsyncSession, platform: str, external_id: str) -> Person | None:
    stmt = (select(Person).join(PersonIdentity)
            .where(PersonIdentity.platform == platform, PersonIdentity.external_id == external_id))
    return (await session.execute(stmt)).scalar_one_or_none()


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


async def sync_staff(session: AsyncSession, staff: list, now: datetime, property: str = "default") -> None:
    """Make the database's staff match the configuration (by any platform identity, else by name)."""
    for s in staff:
        idents = [(p, v) for p, v in (("wecom", s.wecom_userid), ("feishu", s.feishu_open_id),
                                      ("sim", getattr(s, "sim_user", ""))) if v]
        person = None
        for platform, ext in idents:
            person = person or await person_for(session, platform, ext)
        if person is None:
            stmt = select(Person).where(Person.name == s.name, Person.role != "resident")
            person = (await session.execute(stmt)).scalars().first()
        if person is None:
            person = Person(name=s.name, created_at=now, property=property, identities=[])
            session.add(person)
            await session.flush()
        person.name, person.role, person.phone, person.trades = s.name, s.role, s.phone, list(s.trades)
        have = {(i.platform, i.external_id) for i in person.identities}
        for platform, ext in idents:
            if (platform, ext) not in have:
                person.identities.append(PersonIdentity(person_id=person.id, platform=platform, external_id=ext))
    await session.flush()
