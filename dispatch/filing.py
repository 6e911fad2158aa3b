"""Writing a new ticket: ticket, reporter, number, photos and audit events, in the caller's transaction."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, BigInteger, String, bindparam, select, text
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
    fresh: bool = True     # False: its filing key had filed it before, nothing was written now


def filing_key(*parts: str) -> str:
    """The idempotency key of a filing: the conversation (channel, chat, user) and the id of the message
    that confirmed it, or ("api", a client's Idempotency-Key). Hashed when too long for the column."""
    key = "|".join(parts)
    return key if len(key) <= 255 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


# PostgreSQL files a ticket in one statement (one round trip instead of six): data-modifying CTEs all
# run, in one snapshot, whether or not the final SELECT reads them. Same rows as the step-by-step path:
#   prior                           the ticket its filing key filed before (a redelivered 确认): then
#                                   nothing else is written and the final SELECT returns that ticket
#   known/refreshed/created/linked  the reporter remembered (`remember_reporter`; staff keep their record)
#   counter                         the day's next number (`next_number`: the row lock serialises filings)
#   ticket                          the ticket, BX<day>-<nnnn> (four digits at least, as f"{n:04d}")
#   photos                          the resident's photos linked to it
#   events                          its audit events (`created`, and `dispatched` when it went to technicians)
_FILE_ON_POSTGRESQL = text("""
WITH prior AS (
    SELECT id, number, status, channel, category, trade, visit_text, version FROM tickets
    WHERE filing_key = :filing_key
), known AS (
    SELECT p.id, p.role FROM persons p JOIN person_identities i ON i.person_id = p.id
    WHERE :reporter_user <> '' AND i.platform = :reporter_channel AND i.external_id = :reporter_user
), refreshed AS (
    UPDATE persons SET name = :reporter_name, phone = :phone
    FROM known WHERE persons.id = known.id AND known.role = 'resident' AND NOT EXISTS (SELECT 1 FROM prior)
), created AS (
    INSERT INTO persons (property, name, role, phone, trades, created_at)
    SELECT :property, :reporter_name, 'resident', :phone, CAST('[]' AS json), :now
    WHERE :reporter_user <> '' AND NOT EXISTS (SELECT 1 FROM known) AND NOT EXISTS (SELECT 1 FROM prior)
    RETURNING id
), linked AS (
    INSERT INTO person_identities (person_id, platform, external_id)
    SELECT id, :reporter_channel, :reporter_user FROM created
), counter AS (
    INSERT INTO ticket_counters (day, last) SELECT :day, 1 WHERE NOT EXISTS (SELECT 1 FROM prior)
    ON CONFLICT (day) DO UPDATE SET last = ticket_counters.last + 1
    RETURNING last
), ticket AS (
    INSERT INTO tickets (number, property, status, area, location, location_key, reporter_name, phone,
                         description, category, trade, channel, reporter_channel, reporter_chat, reporter_user,
                         reporter_id, visit_text, visit_at, created_at, dispatched_at, version, filing_key)
    SELECT 'BX' || :day || '-' || lpad(CAST(last AS text), greatest(4, length(CAST(last AS text))), '0'),
           :property, :status, :area, :location, :location_key, :reporter_name, :phone,
           :description, :category, :trade, :channel, :reporter_channel, :reporter_chat, :reporter_user,
           (SELECT id FROM known UNION ALL SELECT id FROM created), :visit_text, :visit_at, :now, :dispatched_at, 1,
           :filing_key
    FROM counter
    -- Two filings with one key at the same moment: the second waits for the first and writes nothing.
    ON CONFLICT (filing_key) DO NOTHING
    RETURNING id, number
), photos AS (
    UPDATE photos SET ticket_id = ticket.id FROM ticket WHERE photos.id = ANY(:photo_ids)
), events AS (
    INSERT INTO ticket_events (ticket_id, at, actor, channel, action, from_status, to_status, details)
    SELECT ticket.id, :now, e.actor, e.channel, e.action, e.from_status, e.to_status, e.details
    FROM ticket, json_to_recordset(:events) AS e(actor text, channel text, action text, from_status text,
                                                 to_status text, details json)
)
SELECT id, number, true, '', '', '', '', '', 1 FROM ticket
UNION ALL
SELECT id, number, false, status, channel, category, trade, visit_text, version FROM prior
""").bindparams(
    *(bindparam(name, type_=String()) for name in (
        "filing_key", "reporter_user", "reporter_channel", "reporter_name", "phone", "property", "day", "status", "area",
        "location", "location_key", "description", "category", "trade", "channel", "reporter_chat",
        "visit_text")),
    *(bindparam(name, type_=TICKETS.c.created_at.type) for name in ("now", "visit_at", "dispatched_at")),
    bindparam("photo_ids", type_=ARRAY(BigInteger())),
    bindparam("events", type_=JSON()),
)


PRIOR = select(TICKETS.c.id, TICKETS.c.number, TICKETS.c.status, TICKETS.c.channel, TICKETS.c.category,
               TICKETS.c.trade, TICKETS.c.visit_text, TICKETS.c.version).where(
    TICKETS.c.filing_key == bindparam("filing_key"))


async def create_ticket(conn: AsyncConnection, new: NewTicket, actor: str, now: datetime,
                        tz: str = "Asia/Shanghai", dispatched_to: list[str] | None = None, *,
                        key: str = "") -> Filed:
    """Write the ticket and its `created` event (and `dispatched`, when it goes straight to technicians);
    the caller's transaction commits all or nothing. With a `key` (see `filing_key`) a ticket is filed
    once: a second call returns the ticket the first filed (`fresh` False) and writes nothing."""
    dispatched = dispatched_to is not None
    status = statuses.DISPATCHED if dispatched else statuses.SUBMITTED
    events = [dict(actor=actor, channel=new.channel, action="created", from_status="", to_status=statuses.SUBMITTED,
                   details={"category": new.category, "trade": new.trade, "photos": len(new.photo_ids)})]
    if dispatched:
        events.append(dict(actor="system", channel="system", action="dispatched", from_status=statuses.SUBMITTED,
                           to_status=statuses.DISPATCHED, details={"technicians": dispatched_to}))
    file = _file_on_postgresql if conn.dialect.name == "postgresql" else _file_step_by_step
    filed = await file(conn, new, now, tz, status, events, key or None)
    if filed is not None:
        return filed
    # Filed under the same key by a transaction that committed while this statement ran.
    return _prior(await _find_prior(conn, key))


async def _find_prior(conn: AsyncConnection, key: str | None):
    return (await conn.execute(PRIOR, {"filing_key": key})).first() if key else None


def _prior(row) -> Filed:
    ticket_id, number, status, channel, category, trade, visit_text, version = row
    return Filed(ticket_id, number, status, channel, category, trade, visit_text, version, fresh=False)


def _ticket_row(new: NewTicket, now: datetime, status: str) -> dict:
    return dict(
        property=new.property, status=status, area=new.area, location=new.location, location_key=new.location_key,
        reporter_name=new.reporter_name, phone=new.phone, description=new.description, category=new.category,
        trade=new.trade, channel=new.channel, reporter_channel=new.reporter_channel, reporter_chat=new.reporter_chat,
        reporter_user=new.reporter_user, visit_text=new.visit_text, visit_at=new.visit_at, created_at=now,
        dispatched_at=now if status == statuses.DISPATCHED else None,
    )


async def _file_on_postgresql(conn: AsyncConnection, new: NewTicket, now: datetime, tz: str, status: str,
                              events: list[dict], key: str | None) -> Filed | None:
    row = _ticket_row(new, now, status)
    del row["created_at"]
    params = dict(row, now=now, day=local_day(now, tz), photo_ids=list(new.photo_ids), events=events,
                  filing_key=key)
    found = (await conn.execute(_FILE_ON_POSTGRESQL, params)).first()
    if found is None:
        return None
    ticket_id, number, fresh, *rest = found
    if not fresh:
        return _prior((ticket_id, number, *rest))
    return Filed(ticket_id, number, status, new.channel, new.category, new.trade, new.visit_text)


async def _file_step_by_step(conn: AsyncConnection, new: NewTicket, now: datetime, tz: str, status: str,
                             events: list[dict], key: str | None) -> Filed | None:
    """Any other database (SQLite, the embedded default): the same rows, one statement each."""
    if (prior := await _find_prior(conn, key)) is not None:
        return _prior(prior)
    number = await next_number(conn, now, tz)
    reporter_id = None
    if new.reporter_user:
        reporter_id = await remember_reporter(conn, new.reporter_channel, new.reporter_user, new.reporter_name,
                                              new.phone, now, new.property)
    row = dict(_ticket_row(new, now, status), number=number, reporter_id=reporter_id, version=1, filing_key=key)
    ticket_id = (await conn.execute(NEW_TICKET, row)).scalar_one()
    if new.photo_ids:
        await conn.execute(LINK_PHOTOS, {"photo_ids": list(new.photo_ids), "ticket": ticket_id})
    await conn.execute(NEW_EVENT, [dict(e, ticket_id=ticket_id, at=now) for e in events])
    return Filed(ticket_id, number, status, new.channel, new.category, new.trade, new.visit_text)
