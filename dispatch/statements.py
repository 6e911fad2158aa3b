"""Every prebuilt statement of the ticket hot paths: filing, duplicates, watchers, who hears of a ticket."""
from __future__ import annotations

from sqlalchemy import (
    JSON, BigInteger, Boolean, Date, Numeric, String, bindparam, case, func, insert, literal, select, text, true, update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from dispatch import statuses
from store.models import CalendarDay, Person, PersonIdentity, Photo, Ticket, TicketEvent, TicketWatcher, Trade

# Tables for the Core statements of the hot paths (filing, the duplicate check): no ORM objects there.
TICKETS = Ticket.__table__
EVENTS = TicketEvent.__table__
PHOTOS = Photo.__table__
WATCHERS = TicketWatcher.__table__
TRADES = Trade.__table__
PERSONS = Person.__table__
IDENTITIES = PersonIdentity.__table__

# Built once: building a statement costs more than running it.
NEW_TICKET = insert(TICKETS).returning(TICKETS.c.id)
LINK_PHOTOS = (update(PHOTOS).where(PHOTOS.c.id.in_(bindparam("photo_ids", expanding=True)))
               .values(ticket_id=bindparam("ticket")))
NEW_EVENT = insert(EVENTS)
OPEN_DUPLICATE = (
    select(TICKETS.c.id, TICKETS.c.number, TICKETS.c.status, TICKETS.c.location, TICKETS.c.description,
           TICKETS.c.created_at, TICKETS.c.reporter_channel, TICKETS.c.reporter_user)
    .where(TICKETS.c.location_key == bindparam("location_key"), TICKETS.c.trade == bindparam("trade"),
           # One bound value per status, not an expanding list: the SQL is rendered once, not per query.
           TICKETS.c.status.in_([literal(s) for s in sorted(statuses.OPEN)]),
           TICKETS.c.created_at >= bindparam("since", type_=TICKETS.c.created_at.type))
    .order_by(TICKETS.c.created_at.desc()).limit(1))
WATCHING = select(WATCHERS.c.id).where(WATCHERS.c.ticket_id == bindparam("ticket_id"),
                                       WATCHERS.c.channel == bindparam("channel"),
                                       WATCHERS.c.user_id == bindparam("user_id"))
NEW_WATCHER = insert(WATCHERS)

# Who may hear of a new ticket, in one round trip: the trade's group chats on every row, and each
# technician's or supervisor's accounts (one row with no person when there is nobody).
_WANTED = select(bindparam("trade", type_=String()).label("key")).subquery("wanted")
_STAFF = (
    select(PERSONS.c.id, PERSONS.c.name, PERSONS.c.role, PERSONS.c.trades, IDENTITIES.c.platform,
           IDENTITIES.c.external_id, IDENTITIES.c.id.label("identity_id"))
    .join(IDENTITIES, IDENTITIES.c.person_id == PERSONS.c.id)
    # Fixed bound values rather than expanding lists (rendered once); platforms are filtered in Python.
    .where(PERSONS.c.role.in_([literal("technician"), literal("supervisor"), literal("manager")]))
    .subquery("staff"))
AUDIENCE = (
    select(TRADES.c.wecom_chat_id, TRADES.c.feishu_chat_id, _STAFF.c.id, _STAFF.c.name, _STAFF.c.role,
           _STAFF.c.trades, _STAFF.c.platform, _STAFF.c.external_id)
    .select_from(_WANTED.outerjoin(TRADES, TRADES.c.key == _WANTED.c.key).outerjoin(_STAFF, true()))
    .order_by(_STAFF.c.id, _STAFF.c.identity_id))

# Who holds the desk now (BR-3, as dispatch/duty.py `desk_now` decides) and their accounts, in one round trip:
# at night central control; in the day hours the front desk on a working day, else the housekeeper on duty.
# The day's kind is the calendar's stored row (an operator's correction wins), else what seeding would store
# (`computed`, passed in: dispatch/calendar_days.py `computed_day`).
_CALENDAR = CalendarDay.__table__
_DAY_KIND = func.coalesce(
    select(_CALENDAR.c.kind).where(_CALENDAR.c.day == bindparam("day", type_=Date())).scalar_subquery(),
    bindparam("computed", type_=String()))
DESK_ON_DUTY = (
    select(PERSONS.c.id, IDENTITIES.c.platform, IDENTITIES.c.external_id)
    .join(IDENTITIES, IDENTITIES.c.person_id == PERSONS.c.id)
    .where(PERSONS.c.property == bindparam("property", type_=String()),
           PERSONS.c.role == case((bindparam("night", type_=Boolean()), literal("control")),
                                  (_DAY_KIND.in_([literal("workday"), literal("makeup_workday")]), literal("desk")),
                                  else_=literal("housekeeper")))
    .order_by(PERSONS.c.id, IDENTITIES.c.id))

# PostgreSQL files a ticket in one statement (one round trip instead of six): data-modifying CTEs all
# run, in one snapshot, whether or not the final SELECT reads them. Same rows as the step-by-step path:
#   prior                           the ticket its filing key filed before (a redelivered 确认): then
#                                   nothing else is written and the final SELECT returns that ticket
#   known/refreshed/created/linked  the reporter remembered (`remember_reporter`; staff keep their record)
#   counter                         the day's next number (`next_number`: the row lock serialises filings)
#   ticket                          the ticket, BX<day>-<nnnn> (four digits at least, as f"{n:04d}"), with
#                                   `warranty_of` and its fee 0 when a warranty lookup (dispatch/warranty.py,
#                                   one indexed query before this one) found the job it repeats (BR-24)
#   photos                          the resident's photos linked to it
#   events                          its audit events (`created`, `warranty` for a warranty repair, and
#                                   `dispatched` when it went to technicians)
#   steps                           its escalation chains' first timers (dispatch/escalation.py
#                                   `first_step_rows`), keyed as `_key` there keys them: esc:<id>:<clock>:<i>
#   queued                          its outbound messages (the cards, the desk's and the supervisors'
#                                   notices), written before the number was known: `NUMBER` in their keys
#                                   and payloads becomes it (the columns as dispatch/outbox.py `values_of`)
NUMBER = "{{number}}"   # where a message written before the ticket has its number puts it
FILE_ON_POSTGRESQL = text("""
WITH prior AS (
    SELECT id, number, status, channel, category, trade, visit_text, version, warranty_of FROM tickets
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
    INSERT INTO tickets (number, property, status, area, location, location_key, building, reporter_name, phone,
                         description, category, trade, channel, reporter_channel, reporter_chat, reporter_user,
                         reporter_id, visit_text, visit_at, created_at, dispatched_at, version, filing_key,
                         warranty_of, fee)
    SELECT 'BX' || :day || '-' || lpad(CAST(last AS text), greatest(4, length(CAST(last AS text))), '0'),
           :property, :status, :area, :location, :location_key, :building, :reporter_name, :phone,
           :description, :category, :trade, :channel, :reporter_channel, :reporter_chat, :reporter_user,
           (SELECT id FROM known UNION ALL SELECT id FROM created), :visit_text, :visit_at, :now, :dispatched_at, 1,
           :filing_key, :warranty_of, CAST(:fee AS numeric)
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
), steps AS (
    INSERT INTO timers (key, kind, due_at, ticket_id, details, status, claimed_by)
    SELECT 'esc:' || ticket.id || ':' || s.clock || ':' || s.i, 'escalation', s.due_at, ticket.id, s.details,
           'pending', ''
    FROM ticket, json_to_recordset(:steps) AS s(clock text, i int, due_at timestamptz, details json)
    ON CONFLICT (key) DO NOTHING
), queued AS (
    INSERT INTO outbox (dedupe_key, ticket_id, channel, recipient, kind, payload, status, attempts, next_attempt_at,
                        created_at, last_error, platform_message_id, claimed_by)
    SELECT left(replace(m.key, :number_mark, ticket.number), 128), ticket.id, m.channel, m.recipient, m.kind,
           CAST(replace(CAST(m.payload AS text), :number_mark, ticket.number) AS json), 'pending', 0, :now, :now,
           '', '', ''
    FROM ticket, json_to_recordset(:messages) AS m(key text, channel text, recipient text, kind text, payload json)
    ON CONFLICT (dedupe_key) DO NOTHING
)
SELECT id, number, true, '', '', '', '', '', 1, CAST(NULL AS varchar) FROM ticket
UNION ALL
SELECT id, number, false, status, channel, category, trade, visit_text, version, warranty_of FROM prior
""").bindparams(
    *(bindparam(name, type_=String()) for name in (
        "filing_key", "reporter_user", "reporter_channel", "reporter_name", "phone", "property", "day", "status", "area",
        "location", "location_key", "building", "description", "category", "trade", "channel", "reporter_chat",
        "visit_text", "warranty_of")),
    *(bindparam(name, type_=TICKETS.c.created_at.type) for name in ("now", "visit_at", "dispatched_at")),
    bindparam("fee", type_=Numeric(10, 2)),
    bindparam("photo_ids", type_=ARRAY(BigInteger())),
    bindparam("events", type_=JSON()),
    bindparam("steps", type_=JSON()),
    bindparam("messages", type_=JSON()),
    bindparam("number_mark", value=NUMBER, type_=String()),
)


PRIOR = select(TICKETS.c.id, TICKETS.c.number, TICKETS.c.status, TICKETS.c.channel, TICKETS.c.category,
               TICKETS.c.trade, TICKETS.c.visit_text, TICKETS.c.version, TICKETS.c.warranty_of).where(
    TICKETS.c.filing_key == bindparam("filing_key"))
