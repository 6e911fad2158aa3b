"""People behind platform accounts: reporters remembered for next time, staff synced from settings."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Person, PersonIdentity


async def person_for(session: AsyncSession, platform: str, external_id: str) -> Person | None:
    stmt = (select(Person).join(PersonIdentity)
            .where(PersonIdentity.platform == platform, PersonIdentity.external_id == external_id))
    return (await session.execute(stmt)).scalar_one_or_none()


async def remember_reporter(session: AsyncSession, platform: str, external_id: str, name: str, phone: str,
                            now: datetime, property: str = "default") -> Person:
    """Find or create the reporter and keep their latest name and phone for the next report."""
    person = await person_for(session, platform, external_id)
    if person is None:
        person = Person(name=name, phone=phone, role="resident", trades=[], created_at=now, property=property,
                        identities=[])
        session.add(person)
        await session.flush()
        session.add(PersonIdentity(person_id=person.id, platform=platform, external_id=external_id))
        await session.flush()
    elif person.role == "resident":
        person.name, person.phone = name, phone
    return person


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
