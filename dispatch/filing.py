"""Writing a new ticket: ticket, reporter, number, photos and audit events, in the caller's transaction."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, BigInteger, String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from dispatch import statuses
from dispatch.numbers import local_day, next_number
from dispatch.people import remember_reporter
from dispatch.tickets import LINK_PHOTOS, NEW_EVENT, NEW_TICKET, TICKETS, NewTicket


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


# PostgreSQL files a ticket in one statement (one round trip instead of six): data-modifying CTEs all
# run, in one snapshot, whether or not the final SELECT reads them. Same rows as the step-by-step path:
#   known/refreshed/created/linked  the reporter remembered (`remember_reporter`; staff keep their record)
#   counter                         the day's next number (`next_number`: the row lock serialises filings)
#   ticket                          the ticket, BX<day>-<nnnn> (four digits at least, as f"{n:04d}")
#   photos                          the resident's photos linked to it
#   events                          its audit events (`created`, and `dispatched` when it went to technicians)
_FILE_ON_POSTGRESQL = text("""
WITH known AS (
    SELECT p.id, p.role FROM persons p JOIN person_identities i ON i.person_id = p.id
    WHERE :reporter_user <> '' AND i.platform = :reporter_channel AND i.external_id = :reporter_user
), refreshed AS (
    UPDATE persons SET name = :reporter_name, phone = :phone
    FROM known WHERE persons.id = known.id AND known.role = 'resident'
), created AS (
    INSERT INTO persons (property, name, role, phone, trades, created_at)
    SELECT :property, :reporter_name, 'resident', :phone, CAST('[]' AS json), :now
    WHERE :reporter_user <> '' AND NOT EXISTS (SELECT 1 FROM known)
    RETURNING id
), linked AS (
    INSERT INTO person_identities (person_id, platform, external_id)
    SELECT id, :reporter_channel, :reporter_user FROM created
), counter AS (
    INSERT INTO ticket_counters (day, last) VALUES (:day, 1)
    ON CONFLICT (day) DO UPDATE SET last = ticket_counters.last + 1
    RETURNING last
), ticket AS (
    INSERT INTO tickets (number, property, status, area, location, location_key, reporter_name, phone,
                         description, category, trade, channel, reporter_channel, reporter_chat, reporter_user,
                         reporter_id, visit_text, visit_at, created_at, dispatched_at, version)
    SELECT 'BX' || :day || '-' || lpad(CAST(last AS text), greatest(4, length(CAST(last AS text))), '0'),
           :property, :status, :area, :location, :location_key, :reporter_name, :phone,
           :description, :category, :trade, :channel, :reporter_channel, :reporter_chat, :reporter_user,
           (SELECT id FROM known UNION ALL SELECT id FROM created), :visit_text, :visit_at, :now, :dispatched_at, 1
    FROM counter
    RETURNING id, number
), photos AS (
    UPDATE photos SET ticket_id = ticket.id FROM ticket WHERE photos.id = ANY(:photo_ids)
), events AS (
    INSERT INTO ticket_events (ticket_id, at, actor, channel, action, from_status, to_status, details)
    SELECT ticket.id, :now, e.actor, e.channel, e.action, e.from_status, e.to_status, e.details
    FROM ticket, json_to_recordset(:events) AS e(actor text, channel text, action text, from_status text,
                                                 to_status text, details json)
)
SELECT id, number FROM ticket
""").bindparams(
    *(bindparam(name, type_=String()) for name in (
        "reporter_user", "reporter_channel", "reporter_name", "phone", "property", "day", "status", "area",
        "location", "location_key", "description", "category", "trade", "channel", "reporter_chat",
        "visit_text")),
    *(bindparam(name, type_=TICKETS.c.created_at.type) for name in ("now", "visit_at", "dispatched_at")),
    bindparam("photo_ids", type_=ARRAY(BigInteger())),
    bindparam("events", type_=JSON()),
)


async def create_ticket(conn: AsyncConnection, new: NewTicket, actor: str, now: datetime,
                        tz: str = "Asia/Shanghai", dispatched_to: list[str] | None = None) -> Filed:
    """Write the ticket and its `created` event (and `dispatched`, when it goes straight to technicians);
    the caller's transaction commits all or nothing."""
    dispatched = dispatched_to is not None
    status = statuses.DISPATCHED if dispatched else statuses.SUBMITTED
    events = [dict(actor=actor, channel=new.channel, action="created", from_status="", to_status=statuses.SUBMITTED,
                   details={"category": new.category, "trade": new.trade, "photos": len(new.photo_ids)})]
    if dispatched:
        events.append(dict(actor="system", channel="system", action="dispatched", from_status=statuses.SUBMITTED,
                           to_status=statuses.DISPATCHED, details={"technicians": dispatched_to}))
    file = _file_on_postgresql if conn.dialect.name == "postgresql" else _file_step_by_step
    ticket_id, number = await file(conn, new, now, tz, status, events)
    return Filed(ticket_id, number, status, new.channel, new.category, new.trade, new.visit_text)


def _ticket_row(new: NewTicket, now: datetime, status: str) -> dict:
    return dict(
        property=new.property, status=status, area=new.area, location=new.location, location_key=new.location_key,
        reporter_name=new.reporter_name, phone=new.phone, description=new.description, category=new.category,
        trade=new.trade, channel=new.channel, reporter_channel=new.reporter_channel, reporter_chat=new.reporter_chat,
        reporter_user=new.reporter_user, visit_text=new.visit_text, visit_at=new.visit_at, created_at=now,
        dispatched_at=now if status == statuses.DISPATCHED else None,
    )


async def _file_on_postgresql(conn: AsyncConnection, new: NewTicket, now: datetime, tz: str, status: str,
                              events: list[dict]) -> tuple[int, str]:
    row = _ticket_row(new, now, status)
    del row["created_at"]
    params = dict(row, now=now, day=local_day(now, tz), photo_ids=list(new.photo_ids), events=events)
    ticket_id, number = (await conn.execute(_FILE_ON_POSTGRESQL, params)).one()
    return ticket_id, number


async def _file_step_by_step(conn: AsyncConnection, new: NewTicket, now: datetime, tz: str, status: str,
                             events: list[dict]) -> tuple[int, str]:
    """Any other database (SQLite, the embedded default): the same rows, one statement each."""
    number = await next_number(conn, now, tz)
    reporter_id = None
    if new.reporter_user:
        reporter_id = await remember_reporter(conn, new.reporter_channel, new.reporter_user, new.reporter_name,
                                              new.phone, now, new.property)
    row = dict(_ticket_row(new, now, status), number=number, reporter_id=reporter_id, version=1)
    ticket_id = (await conn.execute(NEW_TICKET, row)).scalar_one()
    if new.photo_ids:
        await conn.execute(LINK_PHOTOS, {"photo_ids": list(new.photo_ids), "ticket": ticket_id})
    await conn.execute(NEW_EVENT, [dict(e, ticket_id=ticket_id, at=now) for e in events])
    return ticket_id, number
