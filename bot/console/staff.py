"""Who a console username names: a member of `[[staff]]` by their phone or one of their platform user ids."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from conversations.extract import normalize_phone
from dispatch.permissions import ROLES
from store.models import Person, PersonIdentity

# The console's own identity of a person (bot/console/identity.py) is no name to log in with.
CONSOLE_PLATFORM = "console"
MAX_USERNAME = 128


@dataclass(frozen=True)
class User:
    """The member of staff behind a console session, as the configuration names them now."""

    id: int
    name: str
    role: str
    trades: tuple[str, ...]
    phone: str

    @classmethod
    def of(cls, person: Person) -> User:
        return cls(person.id, person.name, person.role, tuple(person.trades or ()), person.phone or "")


def clean_username(who: str) -> str:
    """The username as typed, trimmed; a phone written with spaces or dashes reads as its digits."""
    who = (who or "").strip()[:MAX_USERNAME]
    return normalize_phone(who) or who


async def staff_named(session: AsyncSession, who: str) -> list[Person]:
    """Every current member of staff `who` names (one, normally; several: the name is ambiguous)."""
    who = clean_username(who)
    if not who:
        return []
    by_identity = select(PersonIdentity.person_id).where(PersonIdentity.external_id == who,
                                                         PersonIdentity.platform != CONSOLE_PLATFORM)
    rows = (await session.execute(select(Person).where(
        Person.role.in_(ROLES), or_(Person.phone == who, Person.id.in_(by_identity))).order_by(Person.id))).scalars()
    return list(rows)
