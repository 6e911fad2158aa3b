"""The ticket domain: new and filed tickets, duplicates (BR-4), watchers, queries (filing: dispatch.filing)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import raiseload

from dispatch.statements import NEW_EVENT, NEW_WATCHER, OPEN_DUPLICATE, WATCHING
from store.db import connection_of
from store.models import Photo, Ticket, TicketWatcher

@dataclass(frozen=True)
class NewTicket:
    """A validated report (BR-2: every required field present), from chat or staff entry (BR-1)."""

    area: str
    location: str
    location_key: str
    reporter_name: str
    phone: str
    description: str
    category: str
    trade: str
    channel: str
    reporter_channel: str = ""
    reporter_chat: str = ""
    reporter_user: str = ""
    visit_text: str = ""
    visit_at: datetime | None = None
    photo_ids: tuple[int, ...] = field(default_factory=tuple)
    recording_ids: tuple[int, ...] = field(default_factory=tuple)   # the resident's voice notes (Photo.kind "voice")
    property: str = "default"
    building: str = ""   # from the unit list or the parsed location; "" when neither names one


@dataclass(frozen=True)
class Filed:
    """A ticket just written: what its dispatch messages and the chat reply need, nothing read back."""

    id: int
    number: str
    status: str
    channel: str
    category: str
    trade: str
    visit_text: str
    version: int = 1
    fresh: bool = True     # False: its filing key had filed it before, nothing was written now
    warranty_of: str | None = None   # BR-24: the finished job this one repeats (a free warranty repair)


@dataclass(frozen=True)
class OpenTicket:
    """What the duplicate notice shows of an open ticket, and what joining it as a watcher needs."""

    id: int
    number: str
    status: str
    location: str
    description: str
    created_at: datetime
    reporter_channel: str
    reporter_user: str


async def find_duplicate(db: AsyncSession | AsyncConnection, location_key: str, trade: str, now: datetime,
                         window: int) -> OpenTicket | None:
    """BR-4: an open ticket for the same place and trade reported within the window."""
    row = (await (await connection_of(db)).execute(OPEN_DUPLICATE, {
        "location_key": location_key, "trade": trade, "since": now - timedelta(seconds=window)})).first()
    return OpenTicket(*row) if row else None


async def add_watcher(db: AsyncSession | AsyncConnection, ticket: OpenTicket, channel: str, chat: str, user: str,
                      now: datetime) -> bool:
    """Join a repeat reporter to the open ticket (BR-4); False when they already watch it."""
    if ticket.reporter_channel == channel and ticket.reporter_user == user:
        return False
    conn = await connection_of(db)
    if (await conn.execute(WATCHING, {"ticket_id": ticket.id, "channel": channel, "user_id": user})).first():
        return False
    await conn.execute(NEW_WATCHER, dict(ticket_id=ticket.id, channel=channel, chat_id=chat, user_id=user,
                                         created_at=now))
    await conn.execute(NEW_EVENT, dict(ticket_id=ticket.id, at=now, actor=f"{channel}:{user}", channel=channel,
                                       action="watcher_joined", from_status=ticket.status, to_status=ticket.status,
                                       details={"reason": "duplicate_report"}))
    return True


async def get_ticket(session: AsyncSession, number: str) -> Ticket | None:
    return (await session.execute(select(Ticket).where(Ticket.number == number))).scalar_one_or_none()


async def visible_ticket(session: AsyncSession, number: str, channel: str, user: str) -> Ticket | None:
    """A ticket as `查询 BX…` shows it: to its reporter, its watchers (BR-4) and staff only.

    Anyone else gets None, exactly as for a number that does not exist: numbers are sequential and
    guessable, and a ticket carries a resident's address and fault (BR-6: each audience sees its own).
    """
    from dispatch.people import contact_for
    from dispatch.permissions import is_staff

    ticket = await get_ticket(session, number)
    if ticket is None:
        return None
    if ticket.reporter_channel == channel and ticket.reporter_user == user:
        return ticket
    if (await session.execute(WATCHING, {"ticket_id": ticket.id, "channel": channel, "user_id": user})).first():
        return ticket
    person = await contact_for(session, channel, user)
    if person is not None and (is_staff(person.role) or person.id == ticket.reporter_id):
        return ticket
    return None


# 「我的报修」 lists a ticket's own columns: its photos, audit trail and assignee are not read (three queries
# fewer, bench/lifecycle.py); touching them on such a list is an error, not a slow query.
LISTED = (raiseload(Ticket.photos), raiseload(Ticket.events), raiseload(Ticket.assignee))


async def tickets_of(session: AsyncSession, channel: str, user: str, limit: int = 5, *,
                     loaded: bool = False) -> list[Ticket]:
    """A resident's own reports and the ones they joined as a watcher, newest first; with `loaded`, with
    their photos, trail and assignee (else only their columns).

    Two indexed reads merged here rather than one `reporter … OR id IN (watched)`: PostgreSQL cannot
    turn that OR into index scans and reads the whole tickets table (bench/lifecycle.py).
    """
    newest = (Ticket.created_at.desc(), Ticket.id.desc())
    options = () if loaded else LISTED
    own = list((await session.execute(
        select(Ticket).where(Ticket.reporter_channel == channel, Ticket.reporter_user == user)
        .order_by(*newest).limit(limit).options(*options))).scalars())
    watched = [row[0] for row in await session.execute(
        select(TicketWatcher.ticket_id).where(TicketWatcher.channel == channel, TicketWatcher.user_id == user))]
    seen = {t.id for t in own}
    watched = [i for i in watched if i not in seen]
    if watched:
        own += list((await session.execute(
            select(Ticket).where(Ticket.id.in_(watched)).order_by(*newest).limit(limit).options(*options))).scalars())
    own.sort(key=lambda t: (t.created_at, t.id), reverse=True)
    return own[:limit]


@dataclass(frozen=True)
class TicketFilter:
    status: str | None = None
    trade: str | None = None
    area: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    building: str | None = None
    category: str | None = None
    assignee_id: int | None = None       # the tickets this person holds (a technician's own jobs)
    unassigned: bool = False             # nobody holds them yet
    text: str | None = None              # in the number, the location or the description
    overdue_at: datetime | None = None   # only tickets a clock of the rule had run out on by then (dispatch.overdue)
    sla: Any = None                      # the [sla] figures `overdue_at` counts with (None: the rules' defaults)


def _like(text: str) -> str:
    """`text` as a LIKE pattern that finds it anywhere, its own % and _ taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _conditions(f: TicketFilter, *, with_status: bool = True) -> list:
    conds = []
    if f.status and with_status:
        conds.append(Ticket.status == f.status)
    if f.trade:
        conds.append(Ticket.trade == f.trade)
    if f.area:
        conds.append(Ticket.area == f.area)
    if f.building:
        conds.append(Ticket.building == f.building)
    if f.category:
        conds.append(Ticket.category == f.category)
    if f.assignee_id is not None:
        conds.append(Ticket.assignee_id == f.assignee_id)
    if f.unassigned:
        conds.append(Ticket.assignee_id.is_(None))
    if f.since:
        conds.append(Ticket.created_at >= f.since)
    if f.until:
        conds.append(Ticket.created_at < f.until)
    if f.text and f.text.strip():
        pattern = _like(f.text.strip())
        conds.append(or_(Ticket.number.ilike(pattern, escape="\\"), Ticket.location.ilike(pattern, escape="\\"),
                         Ticket.description.ilike(pattern, escape="\\")))
    if f.overdue_at is not None:
        from dispatch.overdue import overdue_clause
        conds.append(overdue_clause(f.overdue_at, f.sla))
    return conds


async def list_tickets(session: AsyncSession, f: TicketFilter, page: int = 1, per_page: int = 50, *,
                       with_total: bool = True) -> tuple[list[Ticket], int]:
    """A page of the tickets the filter finds, newest first, and how many it finds in all (-1 with
    `with_total=False`: a caller that counts them another way, e.g. `count_by_status`, saves a pass)."""
    conds = _conditions(f)
    total = (await session.execute(select(func.count(Ticket.id)).where(*conds))).scalar_one() if with_total else -1
    stmt = (select(Ticket).where(*conds).order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .offset((page - 1) * per_page).limit(per_page))
    return list((await session.execute(stmt)).scalars()), total


async def count_by_status(session: AsyncSession, f: TicketFilter) -> dict[str, int]:
    """How many tickets of each status the filter finds, its own status left out (the console's counts)."""
    rows = await session.execute(select(Ticket.status, func.count(Ticket.id))
                                 .where(*_conditions(f, with_status=False)).group_by(Ticket.status))
    return {status: n for status, n in rows.all()}


async def save_photo(session: AsyncSession, stored, channel: str, uploader: str, now: datetime,
                     kind: str = "report") -> Photo:
    """Record a photo (or, `kind` "voice", a voice note) already written to the media store; linked to its
    ticket when the report is created."""
    photo = Photo(channel=channel, uploader=uploader, path=stored.path, content_type=stored.content_type,
                  size=stored.size, sha256=stored.sha256, created_at=now, kind=kind)
    session.add(photo)
    await session.flush()
    return photo
