"""How the console acts as a person: through a platform identity of its own, `console:p<person id>`.

dispatch.actions.act finds the actor by (channel, user) like a card press; the console passes ("console",
"p<id>") and the audit trail records "console:p<id>" with the channel `console`. The identity is made in the
action's own transaction when missing: the start-up sync (dispatch/roster.py) keeps only the accounts the
configuration names, so it removes this one at every start, and nothing relies on it surviving. No message is
ever sent to it: `console` is no channel (routing only uses platforms a messenger serves).
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import PersonIdentity

PLATFORM = "console"


def user_id(person_id: int) -> str:
    return f"p{person_id}"


def person_id_of(user: str) -> int | None:
    return int(user[1:]) if user.startswith("p") and user[1:].isdigit() and len(user) < 20 else None


async def ensure(session: AsyncSession, person_id: int) -> str:
    """The console's user id of this person, its identity row present in the caller's transaction."""
    uid = user_id(person_id)
    found = (await session.execute(select(PersonIdentity.person_id).where(
        PersonIdentity.platform == PLATFORM, PersonIdentity.external_id == uid))).scalar_one_or_none()
    if found is None:
        insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        await session.execute(insert(PersonIdentity).values(person_id=person_id, platform=PLATFORM, external_id=uid)
                              .on_conflict_do_nothing(index_elements=["platform", "external_id"]))
    return uid
