"""Filing a new ticket: ticket, reporter, number, photos, audit events and dispatch, in the caller's transaction."""
from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from dispatch import outbox, statuses
from dispatch.numbers import local_day, next_number
from dispatch.people import remember_reporter
from dispatch.policy import Policy
from dispatch.duty import Duty
from dispatch.escalation import first_step_rows, first_steps
from dispatch.held import WRITES_OUTBOX
from dispatch.filing_reads import filing_reads
from dispatch.routing import desk_messages, dispatch_messages
from dispatch.statements import FILE_ON_POSTGRESQL, LINK_PHOTOS, NEW_EVENT, NEW_TICKET, NUMBER, PRIOR
from dispatch.tickets import Filed, NewTicket
from dispatch.warranty import Warranty, notice_messages
from store.models import Ticket


def filing_key(*parts: str) -> str:
    """The idempotency key of a filing: the conversation (channel, chat, user) and the id of the message
    that confirmed it, or ("api", a client's Idempotency-Key). Hashed when too long for the column."""
    key = "|".join(parts)
    return key if len(key) <= 255 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


WARRANTY_DAYS = Policy().warranty_days   # BR-24's 90 days, for callers that pass none (`[lifecycle]`)


async def file_report(db: AsyncSession | AsyncConnection, new: NewTicket, actor: str, now: datetime, *,
                      channels: set[str], tz: str = "Asia/Shanghai", load_related: bool = True, key: str = "",
                      warranty_days: int = WARRANTY_DAYS, policy: Policy | None = None,
                      duty: Duty | None = None) -> Ticket | Filed:
    """A finished report: the ticket, its first event and its dispatch messages, in one transaction.

    BR-24: a report at a place and in a trade whose job was finished within `warranty_days` (0: never) is a
    warranty repair: linked to that job (`warranty_of`), free (fee 0), and its card goes only to the
    technician who did that job when they can still take it (the trade's supervisors are told either way).

    With a `key` (`filing_key`) the report is filed once: called again with the same key
    it returns the ticket already filed and writes nothing, no second ticket and no second set of cards.

    BR-3: with a `duty`, whoever holds the desk now gets a short notice of the new ticket (the trade's
    supervisors when nobody holds it), in the same transaction.

    `db` is the caller's session, or on PostgreSQL a connection in AUTOCOMMIT: there every write is one
    statement (`FILE_ON_POSTGRESQL`), atomic on its own, so the chat step pays no BEGIN and COMMIT round trips.
    Written with Core statements. `load_related=True` (a session only) returns the `Ticket` with its events,
    photos and assignee (the REST API shows them); `False` returns only `Filed` (the chat reply needs no more,
    and reading nothing back keeps the step fast).
    """
    conn = await db.connection() if isinstance(db, AsyncSession) else db
    one_statement = conn.dialect.name == "postgresql"
    plan, warranty, reach = await filing_reads(conn, new, now, channels, warranty_days, duty)
    first = warranty.first_offer(plan) if warranty else None
    plan = first or plan
    # The first escalation steps (`policy`: `[sla]`, chains), in the filing's transaction.
    steps = first_step_rows(new.category, new.area, new.visit_at, now, policy)

    def messages(number: str) -> list[tuple[str, dict]]:
        out = dispatch_messages(number, plan)
        if reach is not None:
            out += desk_messages(number, reach, plan)
        if warranty:
            out += notice_messages(number, plan, warranty, first is not None)
        return out

    filed = await create_ticket(conn, new, actor, now, tz, dispatched_to=plan.names if plan else None, key=key,
                                warranty=warranty, steps=steps, messages=messages(NUMBER) if one_statement else [])
    if filed.fresh and not one_statement:
        await outbox.enqueue_kinds(conn, messages(filed.number), now=now, ticket_id=filed.id)
        await first_steps(conn, filed.id, steps)
    if not load_related:
        return filed
    return await db.get_one(Ticket, filed.id)  # events, photos and assignee load with it (selectin)


async def create_ticket(conn: AsyncConnection, new: NewTicket, actor: str, now: datetime,
                        tz: str = "Asia/Shanghai", dispatched_to: list[str] | None = None, *,
                        key: str = "", warranty: Warranty | None = None, steps: list[dict] | None = None,
                        messages: list[tuple[str, dict]] | None = None) -> Filed:
    """Write the ticket and its `created` event (and `warranty`, and `dispatched` when it goes straight to
    technicians; on PostgreSQL also the escalation `steps`, `first_step_rows`, and the outbox `messages`, written
    with `NUMBER` where the ticket's number goes); the caller's transaction commits all or nothing. With a `key` (see `filing_key`) a ticket
    is filed once: a second call returns the ticket the first filed (`fresh` False) and writes nothing."""
    dispatched = dispatched_to is not None
    status = statuses.DISPATCHED if dispatched else statuses.SUBMITTED
    events = [dict(actor=actor, channel=new.channel, action="created", from_status="", to_status=statuses.SUBMITTED,
                   details={"category": new.category, "trade": new.trade, "photos": len(new.photo_ids),
                            **({"recordings": len(new.recording_ids)} if new.recording_ids else {})})]
    if warranty:   # BR-24: free, linked to the job it repeats
        events.append(dict(actor="system", channel="system", action="warranty", from_status=statuses.SUBMITTED,
                           to_status=statuses.SUBMITTED, details={"of": warranty.of, "technician": warranty.technician}))
    if dispatched:
        events.append(dict(actor="system", channel="system", action="dispatched", from_status=statuses.SUBMITTED,
                           to_status=statuses.DISPATCHED, details={"technicians": dispatched_to}))
    if conn.dialect.name == "postgresql":
        filed = await _file_on_postgresql(conn, new, now, tz, status, events, key or None,
                                          warranty.of if warranty else None, steps or [], messages or [])
    else:
        filed = await _file_step_by_step(conn, new, now, tz, status, events, key or None,
                                         warranty.of if warranty else None)
    if filed is not None:
        return filed
    # Filed under the same key by a transaction that committed while this statement ran.
    return _prior(await _find_prior(conn, key))


async def _find_prior(conn: AsyncConnection, key: str | None):
    return (await conn.execute(PRIOR, {"filing_key": key})).first() if key else None


def _prior(row) -> Filed:
    ticket_id, number, status, channel, category, trade, visit_text, version, warranty_of = row
    return Filed(ticket_id, number, status, channel, category, trade, visit_text, version, fresh=False,
                 warranty_of=warranty_of)


def _ticket_row(new: NewTicket, now: datetime, status: str, warranty_of: str | None) -> dict:
    return dict(
        warranty_of=warranty_of, fee=Decimal("0") if warranty_of else None,   # BR-24: a warranty repair is free
        property=new.property, status=status, area=new.area, location=new.location, location_key=new.location_key,
        building=new.building,
        reporter_name=new.reporter_name, phone=new.phone, description=new.description, category=new.category,
        trade=new.trade, channel=new.channel, reporter_channel=new.reporter_channel, reporter_chat=new.reporter_chat,
        reporter_user=new.reporter_user, visit_text=new.visit_text, visit_at=new.visit_at, created_at=now,
        dispatched_at=now if status == statuses.DISPATCHED else None,
    )


async def _file_on_postgresql(conn: AsyncConnection, new: NewTicket, now: datetime, tz: str, status: str,
                              events: list[dict], key: str | None, warranty_of: str | None,
                              steps: list[dict], messages: list[tuple[str, dict]]) -> Filed | None:
    row = _ticket_row(new, now, status, warranty_of)
    del row["created_at"]
    params = dict(row, now=now, day=local_day(now, tz), photo_ids=_attachments(new), events=events,
                  filing_key=key, steps=[dict(s, due_at=s["due_at"].isoformat()) for s in steps],
                  messages=[dict(kind=kind, key=m["key"], channel=m["channel"], payload=m["payload"],
                                 recipient=outbox.recipient_of(m.get("user", ""), m.get("chat", "")))
                            for kind, m in messages])
    # The relay's wake-up (relay/wakeup.py) learns from this option that the statement queued messages.
    found = (await conn.execute(FILE_ON_POSTGRESQL, params,
                                execution_options={WRITES_OUTBOX: bool(messages)})).first()
    if found is None:
        return None
    ticket_id, number, fresh, *rest = found
    if not fresh:
        return _prior((ticket_id, number, *rest))
    return Filed(ticket_id, number, status, new.channel, new.category, new.trade, new.visit_text,
                 warranty_of=warranty_of)


async def _file_step_by_step(conn: AsyncConnection, new: NewTicket, now: datetime, tz: str, status: str,
                             events: list[dict], key: str | None, warranty_of: str | None) -> Filed | None:
    """Any other database (SQLite, the embedded default): the same rows, one statement each."""
    if (prior := await _find_prior(conn, key)) is not None:
        return _prior(prior)
    number = await next_number(conn, now, tz)
    reporter_id = None
    if new.reporter_user:
        reporter_id = await remember_reporter(conn, new.reporter_channel, new.reporter_user, new.reporter_name,
                                              new.phone, now, new.property)
    row = dict(_ticket_row(new, now, status, warranty_of), number=number, reporter_id=reporter_id, version=1, filing_key=key)
    ticket_id = (await conn.execute(NEW_TICKET, row)).scalar_one()
    if attachments := _attachments(new):
        await conn.execute(LINK_PHOTOS, {"photo_ids": attachments, "ticket": ticket_id})
    await conn.execute(NEW_EVENT, [dict(e, ticket_id=ticket_id, at=now) for e in events])
    return Filed(ticket_id, number, status, new.channel, new.category, new.trade, new.visit_text,
                 warranty_of=warranty_of)


def _attachments(new: NewTicket) -> list[int]:
    """The report's photos and voice notes: rows of one table, linked to the ticket by one statement."""
    return [*new.photo_ids, *new.recording_ids]
