"""A press's audit events: held in the session (dispatch/held.py) and read back merged with the trail."""
from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from dispatch import held, prefetch
from store.models import TicketEvent

EVENTS = TicketEvent.__table__
PENDING = held.EVENTS_KEY
INSERT = held.NEW_EVENTS
# What a clock reads of the trail (dispatch/clocks.py): plain rows, not ORM objects, for one ticket.
TRAIL = select(EVENTS.c.at, EVENTS.c.action, EVENTS.c.from_status, EVENTS.c.to_status, EVENTS.c.details)


def record(session: AsyncSession, ticket_id: int, at: datetime, actor: str, channel: str, action: str,
           from_status: str, to_status: str, details: dict[str, Any]) -> None:
    """One event, kept in the session until it commits: every event of a press then goes in one INSERT."""
    held.hold(session, PENDING, [dict(
        ticket_id=ticket_id, at=at, actor=actor, channel=channel, action=action, from_status=from_status,
        to_status=to_status, details=details)])


async def trail(session: AsyncSession, ticket_id: int) -> list[SimpleNamespace]:
    """The ticket's events as written so far in this transaction, the waiting ones included."""
    written = prefetch.trail(session, ticket_id)
    if written is None:
        rows = (await session.execute(TRAIL.where(EVENTS.c.ticket_id == ticket_id).order_by(EVENTS.c.id))).all()
        written = [SimpleNamespace(**row._mapping) for row in rows]
    waiting = [v for v in session.info.get(PENDING, ()) if v["ticket_id"] == ticket_id]
    return written + [SimpleNamespace(**v) for v in waiting]


def _write_pending(session: Session) -> None:
    """The held events now, before the statement that must see them (held.py writes the rest at commit)."""
    rows = session.info.pop(PENDING, None)
    if rows:
        prefetch.forget(session, what="trail")     # the trail read at the check no longer has every event
        session.flush()
        session.execute(INSERT, rows)


@event.listens_for(Session, "before_flush")
def _before_other_events(session: Session, flush_context, instances) -> None:
    # An event added as an ORM object comes after those already recorded, as the trail's ids tell.
    if PENDING in session.info and any(isinstance(o, TicketEvent) for o in session.new):
        session.connection().execute(INSERT, session.info.pop(PENDING))


@event.listens_for(Session, "do_orm_execute")
def _before_reading_events(state: ORMExecuteState) -> None:
    # Anyone reading the trail through the ORM in the same transaction (a page, a test) sees every event.
    if state.is_select and PENDING in state.session.info and any(
            m.class_ is TicketEvent for m in state.all_mappers):
        _write_pending(state.session)
