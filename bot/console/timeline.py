"""A ticket's audit trail as the console shows it: who (by name), when, through which channel, what changed."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.identity import PLATFORM, person_id_of
from store.models import Person, PersonIdentity, Ticket

# Details worth a line on the page, in this order (the rest stays in the API's `events`).
SHOWN = ("to", "previous", "outcome", "reason", "note", "visit_text", "total", "amount", "payer", "minutes",
         "technicians", "until")


@dataclass(frozen=True)
class Entry:
    at: datetime
    who: str             # a person's name, or the actor as recorded (system, api:desk)
    channel: str
    action: str
    from_status: str
    to_status: str
    details: tuple[tuple[str, Any], ...]


async def timeline(session: AsyncSession, ticket: Ticket) -> list[Entry]:
    names = await _names(session, [e.actor for e in ticket.events])
    out = []
    for e in ticket.events:
        details = e.details or {}
        # "system" is the service itself (a dispatch, a timer): the channel says so already.
        who = details.get("by") or names.get(e.actor) or ("" if e.actor == "system" else e.actor)
        shown = tuple((k, details[k]) for k in SHOWN if details.get(k) not in (None, "", [], {}))
        out.append(Entry(e.at, str(who), e.channel, e.action, e.from_status or "", e.to_status or "", shown))
    return out


async def _names(session: AsyncSession, actors: list[str]) -> dict[str, str]:
    """Actor "platform:user id" → the person's name, in two queries whatever the number of events."""
    pairs = {tuple(a.split(":", 1)) for a in actors if ":" in a}
    ids = {a: person_id_of(user) for a, (platform, user) in ((a, a.split(":", 1)) for a in actors if ":" in a)
           if platform == PLATFORM and person_id_of(user) is not None}
    names: dict[str, str] = {}
    others = [p for p in pairs if p[0] != PLATFORM]
    if others:
        rows = await session.execute(select(PersonIdentity.platform, PersonIdentity.external_id, Person.name)
                                     .join(Person, Person.id == PersonIdentity.person_id)
                                     .where(tuple_(PersonIdentity.platform, PersonIdentity.external_id).in_(others)))
        names.update({f"{platform}:{user}": name for platform, user, name in rows.all()})
    if ids:
        people = dict((await session.execute(select(Person.id, Person.name).where(Person.id.in_(set(ids.values())))))
                      .all())
        names.update({actor: people[pid] for actor, pid in ids.items() if pid in people})
    return names
