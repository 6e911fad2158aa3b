"""Complaints (投诉, BR-27): numbered, linked to the resident's ticket, straight to the supervisors, answered by staff."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from dispatch.escalation import complaint_opened, complaint_replied
from dispatch import outbox
from dispatch.numbers import TAKE, local_day
from dispatch.people import contact_for
from dispatch.policy import Policy
from dispatch.routing import supervisors_of
from dispatch.statements import WATCHING
from dispatch.tickets import get_ticket, tickets_of
from store.db import connection_of
from store.models import Complaint, Person, Ticket, TicketEvent

OPEN, REPLIED = "open", "replied"
STATUSES = (OPEN, REPLIED)
MAX_TEXT = 2000
NEW = "complaints/new.j2"          # to the supervisors
REPLY = "complaints/reply.j2"      # to the resident


async def next_complaint_number(session, now: datetime, tz: str = "Asia/Shanghai") -> str:
    """TS<yyyymmdd>-<nnnn>, the local day's next. The day's counter is a row of the tickets' counter table
    keyed "TS<yymmdd>": eight characters like the tickets' "<yyyymmdd>" keys, and never equal to one."""
    day = local_day(now, tz)
    conn = await connection_of(session)
    seq = (await conn.execute(TAKE[conn.dialect.name], {"day": f"TS{day[2:]}"})).scalar_one()
    return f"TS{day}-{seq:04d}"


async def open_complaint(session, channel: str, user: str, text: str, number: str | None, now: datetime,
                         policy: Policy, *, tz: str | None = None) -> Complaint:
    """A resident's complaint, in the caller's transaction: linked to the ticket it names when that is the
    person's own, else to their latest ticket, else to none; the trade's supervisors (all supervisors and
    managers when there is no ticket) hear of it at once, and the linked ticket gets an event."""
    ticket = await _their_ticket(session, channel, user, number)
    complaint = Complaint(number=await next_complaint_number(session, now, tz or policy.tz), ticket_id=ticket.id if ticket else None,
                          channel=channel, user_id=user, text=(text or "").strip()[:MAX_TEXT], status=OPEN,
                          created_at=now)
    session.add(complaint)
    if ticket is not None:
        session.add(TicketEvent(ticket_id=ticket.id, at=now, actor=f"{channel}:{user}", channel=channel,
                                action="complaint", from_status=ticket.status, to_status=ticket.status,
                                details={"complaint": complaint.number, "text": complaint.text}))
    await session.flush()
    name, phone = await who(session, complaint, ticket)
    vars = {"complaint": complaint.number, "text": complaint.text, "who": name, "phone": phone}
    for person in await _staff_for(session, ticket):
        for ident in person.identities:
            if ident.platform in policy.channels:
                await outbox.enqueue(session, key=f"{complaint.number}:new:{ident.platform}:{ident.external_id}",
                                     channel=ident.platform, kind=outbox.TEXT,
                                     payload={"template": NEW, "ticket": ticket.number if ticket else None,
                                              "vars": vars},
                                     now=now, user=ident.external_id, ticket_id=ticket.id if ticket else None)
                break
    await complaint_opened(session, complaint, policy)   # BR-27's reply clock escalates like a ticket's
    return complaint


async def reply_complaint(session, complaint: Complaint, by: str, text: str, now: datetime) -> Complaint:
    """Staff answer (BR-27): the reply goes to the resident through the outbox; the complaint is replied."""
    ticket = await session.get(Ticket, complaint.ticket_id) if complaint.ticket_id else None
    complaint.status, complaint.replied_at, complaint.replied_by, complaint.reply = REPLIED, now, by[:64], text
    if ticket is not None:
        session.add(TicketEvent(ticket_id=ticket.id, at=now, actor=f"api:{by}"[:128], channel="api",
                                action="complaint_replied", from_status=ticket.status, to_status=ticket.status,
                                details={"complaint": complaint.number, "reply": text}))
    await outbox.enqueue(session, key=f"{complaint.number}:reply", channel=complaint.channel, kind=outbox.TEXT,
                         payload={"template": REPLY, "ticket": ticket.number if ticket else None,
                                  "vars": {"complaint": complaint.number, "reply": text}},
                         now=now, user=complaint.user_id, ticket_id=ticket.id if ticket else None)
    await complaint_replied(session, complaint)   # its pending escalation steps, in this commit
    await session.flush()
    return complaint


async def complaint_by_number(session, number: str) -> Complaint | None:
    return (await session.execute(select(Complaint).where(Complaint.number == number))).scalar_one_or_none()


async def complaints(session, status: str | None, page: int, per_page: int
                     ) -> tuple[list[tuple[Complaint, Ticket | None]], int]:
    """Open ones oldest first (the next to answer), replied ones newest first; None: all, newest first."""
    conds = [Complaint.status == status] if status else []
    order = [Complaint.created_at, Complaint.id] if status == OPEN else [Complaint.created_at.desc(),
                                                                        Complaint.id.desc()]
    total = (await session.execute(select(func.count(Complaint.id)).where(*conds))).scalar_one()
    rows = (await session.execute(
        select(Complaint, Ticket).outerjoin(Ticket, Ticket.id == Complaint.ticket_id).where(*conds).order_by(*order)
        .offset((page - 1) * per_page).limit(per_page))).all()
    return [(c, t) for c, t in rows], total


async def _their_ticket(session, channel: str, user: str, number: str | None) -> Ticket | None:
    if number:
        ticket = await get_ticket(session, number.strip().upper())
        if ticket is not None and await _is_theirs(session, ticket, channel, user):
            return ticket
    latest = await tickets_of(session, channel, user, limit=1, loaded=True)
    return latest[0] if latest else None


async def _is_theirs(session, ticket: Ticket, channel: str, user: str) -> bool:
    """Their own report, one they joined as a repeat reporter (BR-4), or one filed for them by the desk."""
    if ticket.reporter_channel == channel and ticket.reporter_user == user:
        return True
    if (await session.execute(WATCHING, {"ticket_id": ticket.id, "channel": channel, "user_id": user})).first():
        return True
    person = await contact_for(session, channel, user)
    return person is not None and ticket.reporter_id == person.id


async def who(session, complaint: Complaint, ticket: Ticket | None) -> tuple[str, str]:
    """The complainant's name and phone, as we know them: their person record, else the linked ticket."""
    person = await contact_for(session, complaint.channel, complaint.user_id)
    if person is not None and (person.name or person.phone):
        return person.name, person.phone
    if ticket is not None:
        return ticket.reporter_name, ticket.phone
    return "", ""


async def _staff_for(session, ticket: Ticket | None) -> list[Person]:
    if ticket is not None:
        return await supervisors_of(session, ticket.trade)
    rows = await session.execute(select(Person).where(Person.role.in_(("supervisor", "manager"))).order_by(Person.id))
    return list(rows.scalars())
