"""A press's other reads of its ticket (timers, trail, card copies), fetched with the check on PostgreSQL."""
from __future__ import annotations

# Why: after the check (dispatch/actions.py `checked`) a press reads the ticket's timers and trail (to move
# its escalation chain) and its card copies (to rewrite every copy). None of them changes between the check
# and those reads, so on PostgreSQL the check's own statement brings them as three JSON columns: three
# round trips fewer per press (bench/lifecycle.py). Each is handed out once; a reader that gets None reads
# the table itself, as it does on SQLite, in a timer's session, or when the session holds newer state.

import json
from datetime import datetime, timezone
from types import SimpleNamespace

from sqlalchemy import Text, cast, event, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import ORMExecuteState, Session

from store.models import CardCopy, Ticket, TicketEvent, Timer

KEY = "prefetched"
TIMERS, EVENTS, COPIES = Timer.__table__, TicketEvent.__table__, CardCopy.__table__

# What each reader gets, in this order (the JSON arrays' positions).
TIMER_FIELDS = ("id", "key", "kind", "status", "due_at", "details")
EVENT_FIELDS = ("at", "action", "from_status", "to_status", "details")
COPY_FIELDS = ("id", "channel", "recipient_user", "recipient_chat")
TIMES = {"due_at", "at"}


def _json_rows(table, fields: tuple[str, ...]):
    cols = [table.c[f] for f in fields]
    return (select(cast(func.json_agg(aggregate_order_by(func.json_build_array(*cols), table.c.id)), Text))
            .where(table.c.ticket_id == Ticket.id).scalar_subquery())


# The three columns `checked` adds to its SELECT on PostgreSQL (correlated with the ticket's row).
COLUMNS = (_json_rows(TIMERS, TIMER_FIELDS).label("pf_timers"), _json_rows(EVENTS, EVENT_FIELDS).label("pf_trail"),
           _json_rows(COPIES, COPY_FIELDS).label("pf_copies"))


def keep(session, ticket_id: int, timers: str | None, trail: str | None, copies: str | None) -> None:
    """Hold what the check read, as text, until a reader asks (most presses need all three)."""
    session.info[KEY] = {(ticket_id, "timers"): timers, (ticket_id, "trail"): trail, (ticket_id, "copies"): copies}


def _take(session, ticket_id: int, what: str, fields: tuple[str, ...]) -> list[tuple] | None:
    held = session.info.get(KEY)
    if not held or (ticket_id, what) not in held:
        return None
    raw = held.pop((ticket_id, what))
    if isinstance(raw, list):       # given back by a reader that wrote them (`give_back`)
        return raw
    out = []
    for values in json.loads(raw) if raw else ():
        out.append(tuple(datetime.fromisoformat(v).astimezone(timezone.utc) if f in TIMES and v is not None else v
                         for f, v in zip(fields, values)))
    return out


def timers(session, ticket_id: int) -> list[SimpleNamespace] | None:
    """The ticket's timers as the check read them (or as a reader gave them back), or None. None as well once
    the session has read or written any timer as an object: the caller then reads them through the session."""
    if any(isinstance(o, Timer) for o in session.identity_map.values()):
        forget(session, ticket_id, "timers")
        return None
    rows = _take(session, ticket_id, "timers", TIMER_FIELDS)
    if rows is None or (rows and isinstance(rows[0], SimpleNamespace)):
        return rows
    return [SimpleNamespace(**dict(zip(TIMER_FIELDS, r))) for r in rows]


def give_back(session, ticket_id: int, timers: list[SimpleNamespace]) -> None:
    """The timers a reader took and has just written (as the table now has them), for the next reader."""
    session.info.setdefault(KEY, {})[(ticket_id, "timers")] = timers


def trail(session, ticket_id: int) -> list[SimpleNamespace] | None:
    """The ticket's events as committed before this press (dispatch/audit.py adds the press's own), or None."""
    rows = _take(session, ticket_id, "trail", EVENT_FIELDS)
    return None if rows is None else [SimpleNamespace(**dict(zip(EVENT_FIELDS, r))) for r in rows]


def copies(session, ticket_id: int) -> list[tuple] | None:
    """(id, channel, recipient_user, recipient_chat) of every copy of the ticket's card, or None."""
    return _take(session, ticket_id, "copies", COPY_FIELDS)


def forget(session, ticket_id: int | None = None, what: str | None = None) -> None:
    """Drop what is held (all of it, or one ticket's `what`): the table has moved on since the check."""
    held = session.info.get(KEY)
    if not held:
        return
    for k in [k for k in held if (ticket_id is None or k[0] == ticket_id) and (what is None or k[1] == what)]:
        del held[k]


@event.listens_for(Session, "before_flush")
def _objects_written(session: Session, flush_context, instances) -> None:
    # An event written as an ORM object is not in the trail the check read; a timer edited as one
    # makes the timers read at the check stale.
    if session.info.get(KEY):
        if any(isinstance(o, TicketEvent) for o in session.new):
            forget(session, what="trail")
        if any(isinstance(o, Timer) for o in (*session.new, *session.dirty, *session.deleted)):
            forget(session, what="timers")


@event.listens_for(Session, "do_orm_execute")
def _timers_loaded(state: ORMExecuteState) -> None:
    # Timers loaded as objects may be edited and flushed (and then dropped by the weak identity map) before
    # the escalation chain is synced: from then on only the table is right.
    if state.session.info.get(KEY) and any(m.class_ is Timer for m in state.all_mappers):
        forget(state.session, what="timers")


@event.listens_for(Session, "after_transaction_end")
def _forget_all(session: Session, transaction) -> None:
    if transaction.parent is None:       # held for one transaction only
        session.info.pop(KEY, None)
