"""The ticket domain: create (ticket + first audit event in one transaction), duplicates, watchers, queries."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import statuses
from dispatch.numbers import next_number
from dispatch.people import remember_reporter
from store.models import Photo, Ticket, TicketEvent, TicketWatcher


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
    property: str = "default"


async def create_ticket(session: AsyncSession, new: NewTicket, actor: str, now: datetime,
                        tz: str = "Asia/Shanghai", dispatched_to: list[str] | None = None) -> Ticket:
    """Write the ticket and its `created` event (and `dispatched`, when it goes straight to technicians);
    the caller's transaction commits all or nothing."""
    number = await next_number(session, now, tz)
    reporter = None
    if new.reporter_user:
        reporter = await remember_reporter(session, new.reporter_channel, new.reporter_user,
                                           new.reporter_name, new.phone, now, new.property)
    dispatched = dispatched_to is not None
    ticket = Ticket(
        number=number, property=new.property, status=statuses.DISPATCHED if dispatched else statuses.SUBMITTED,
        dispatched_at=now if dispatched else None, area=new.area,
        location=new.location, location_key=new.location_key, reporter_name=new.reporter_name,
        phone=new.phone, description=new.description, category=new.category, trade=new.trade,
        channel=new.channel, reporter_channel=new.reporter_channel, reporter_chat=new.reporter_chat,
        reporter_user=new.reporter_user, reporter_id=reporter.id if reporter else None,
        visit_text=new.visit_text, visit_at=new.visit_at, created_at=now, version=1,
    )
    session.add(ticket)
    await session.flush()
    if new.photo_ids:
        photos = (await session.execute(select(Photo).where(Photo.id.in_(new.photo_ids)))).scalars()
        for p in photos:
            p.ticket_id = ticket.id
    session.add(TicketEvent(
        ticket_id=ticket.id, at=now, actor=actor, channel=new.channel, action="created",
        from_status="", to_status=statuses.SUBMITTED,
        details={"category": new.category, "trade": new.trade, "photos": len(new.photo_ids)},
    ))
    if dispatched:
        session.add(TicketEvent(ticket_id=ticket.id, at=now, actor="system", channel="system", action="dispatched",
                                from_status=statuses.SUBMITTED, to_status=statuses.DISPATCHED,
                                details={"technicians": dispatched_to}))
    await session.flush()
    return ticket


async def find_duplicate(session: AsyncSession, location_key: str, trade: str, now: datetime,
                         window: int) -> Ticket | None:
    """BR-4: an open ticket for the same place and trade reported within the window."""
    stmt = (select(Ticket)
            .where(Ticket.location_key == location_key, Ticket.trade == trade,
                   Ticket.status.in_(statuses.OPEN), Ticket.created_at >= now - timedelta(seconds=window))
            .order_by(Ticket.created_at.desc()).limit(1))
    return (await session.execute(stmt)).scalar_one_or_none()


async def add_watcher(session: AsyncSession, ticket: Ticket, channel: str, chat: str, user: str,
                      now: datetime) -> bool:
    """Join a repeat reporter to the open ticket (BR-4); False when they already watch it."""
    if ticket.reporter_channel == channel and ticket.reporter_user == user:
        return False
    exists = await session.execute(select(TicketWatcher.id).where(
        TicketWatcher.ticket_id == ticket.id, TicketWatcher.channel == channel, TicketWatcher.user_id == user))
    if exists.first():
        return False
    session.add(TicketWatcher(ticket_id=ticket.id, channel=channel, chat_id=chat, user_id=user, created_at=now))
    session.add(TicketEvent(ticket_id=ticket.id, at=now, actor=f"{channel}:{user}", channel=channel,
                            action="watcher_joined", from_status=ticket.status, to_status=ticket.status,
                            details={"reason": "duplicate_report"}))
    await session.flush()
    return True


async def get_ticket(session: AsyncSession, number: str) -> Ticket | None:
    return (await session.execute(select(Ticket).where(Ticket.number == number))).scalar_one_or_none()


async def tickets_of(session: AsyncSession, channel: str, user: str, limit: int = 5) -> list[Ticket]:
    """A resident's own reports and the ones they joined as a watcher, newest first."""
    watched = select(TicketWatcher.ticket_id).where(TicketWatcher.channel == channel, TicketWatcher.user_id == user)
    stmt = (select(Ticket)
            .where(or_((Ticket.reporter_channel == channel) & (Ticket.reporter_user == user), Ticket.id.in_(watched)))
            .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit))
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True)
class TicketFilter:
    status: str | None = None
    trade: str | None = None
    area: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_tickets(session: AsyncSession, f: TicketFilter, page: int = 1, per_page: int = 50
                       ) -> tuple[list[Ticket], int]:
    conds = []
    if f.status:
        conds.append(Ticket.status == f.status)
    if f.trade:
        conds.append(Ticket.trade == f.trade)
    if f.area:
        conds.append(Ticket.area == f.area)
    if f.since:
        conds.append(Ticket.created_at >= f.since)
    if f.until:
        conds.append(Ticket.created_at < f.until)
    total = (await session.execute(select(func.count(Ticket.id)).where(*conds))).scalar_one()
    stmt = (select(Ticket).where(*conds).order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .offset((page - 1) * per_page).limit(per_page))
    return list((await session.execute(stmt)).scalars()), total


async def save_photo(session: AsyncSession, stored, channel: str, uploader: str, now: datetime) -> Photo:
    """Record a photo already written to the media store; linked to its ticket when the report is created."""
    photo = Photo(channel=channel, uploader=uploader, path=stored.path, content_type=stored.content_type,
                  size=stored.size, sha256=stored.sha256, created_at=now)
    session.add(photo)
    await session.flush()
    return photo


async def file_report(session: AsyncSession, new: NewTicket, actor: str, now: datetime, *, channels: set[str],
                      tz: str = "Asia/Shanghai", load_related: bool = True) -> Ticket:
    """A finished report: the ticket, its first event and its dispatch messages, in one transaction.

    `load_related=False` skips reading back events, photos and assignee (the chat reply needs none).
    """
    from dispatch.actions import plan_dispatch, queue_dispatch

    plan = await plan_dispatch(session, new.trade, channels)
    ticket = await create_ticket(session, new, actor, now, tz, dispatched_to=plan.names if plan else None)
    await queue_dispatch(session, ticket, plan, now, channels)
    if load_related:
        await session.refresh(ticket, ["events", "photos", "assignee"])
    return ticket
