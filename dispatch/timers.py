"""A ticket's timers: rows with a due time (auto sign-off, the survey's reminder and lapse), each run once when due.

This module only writes and runs the rows; what each kind does lives in dispatch/timer_kinds.py, which
registers itself here (`kind`). The split keeps this module a leaf: every action may schedule a timer,
and the timers call back into those same actions, so one module holding both would be an import cycle.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dispatch.policy import Policy
from store.db import dialect_name
from store.models import Ticket, Timer

log = logging.getLogger(__name__)

TIMERS = Timer.__table__
# A timer is written once per (ticket, kind, due time): a retried action schedules nothing twice.
SCHEDULE = {name: insert(TIMERS).on_conflict_do_nothing(index_elements=["ticket_id", "kind", "due_at"])
            for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))}
MAX_PER_RUN = 1000     # one sweep's share; what is left runs on the next

Handler = Callable[..., Awaitable[None]]    # (session, timer, now, policy)
# kind → what it does; filled by dispatch/timer_kinds.py (`@kind("signoff_auto")`).
KINDS: dict[str, Handler] = {}


def kind(name: str) -> Callable[[Handler], Handler]:
    """Register the handler of a timer kind."""
    def register(handler: Handler) -> Handler:
        KINDS[name] = handler
        return handler
    return register


class UnknownKind(LookupError):
    """A due timer of a kind nobody registered here: left due, for a process that knows it."""


async def schedule(session, ticket: Ticket, kind: str, due_at: datetime, **details) -> None:
    """Run `kind` for this ticket at `due_at` (by the injected clock's sweep, `run_due`), in the caller's
    transaction; scheduled again with the same kind and time, it is written once."""
    if ticket.id is None:
        await session.flush()
    await session.execute(SCHEDULE[dialect_name(session)],
                          dict(ticket_id=ticket.id, kind=kind, due_at=due_at, done_at=None, details=details))


async def run_due(sessions, now: datetime, policy: Policy) -> int:
    """Run every timer due at `now` once, each in its own transaction; returns how many ran.

    Several workers may sweep at once: a timer is claimed by the conditional UPDATE that sets its
    `done_at` (PostgreSQL first skips rows another worker holds: SELECT … FOR UPDATE SKIP LOCKED), in the
    same transaction as its work. A timer whose work fails rolls back with it: it stays due, is logged and
    counted (`details.failures`), skipped for the rest of this sweep and tried again on the next. One that
    committed never runs again.
    """
    ran, failed = 0, set()
    for _ in range(MAX_PER_RUN):
        timer_id = None
        try:
            async with sessions() as session, session.begin():
                timer = await _claim(session, now, failed)
                if timer is None:
                    break
                timer_id = timer.id
                handler = KINDS.get(timer.kind)
                if handler is None:
                    raise UnknownKind(timer.kind)
                await handler(session, timer, now, policy)
            ran += 1
        except Exception:
            if timer_id is None:  # the claim itself failed (the database is away): the next sweep tries
                log.exception("timers: claiming a due timer failed")
                break
            log.exception("timer %s failed; it runs again on the next sweep", timer_id)
            failed.add(timer_id)
            await _note_failure(sessions, timer_id)
    return ran


async def _claim(session, now: datetime, skip: set[int]) -> Timer | None:
    """The next due timer, marked done in this transaction; None when nothing (else) is due."""
    while True:
        query = (select(TIMERS.c.id).where(TIMERS.c.done_at.is_(None), TIMERS.c.due_at <= now)
                 .order_by(TIMERS.c.due_at, TIMERS.c.id).limit(1)
                 .with_for_update(skip_locked=True))   # PostgreSQL; SQLite has one writer and ignores it
        if skip:
            query = query.where(TIMERS.c.id.not_in(skip))
        timer_id = (await session.execute(query)).scalar_one_or_none()
        if timer_id is None:
            return None
        won = await session.execute(update(TIMERS).where(TIMERS.c.id == timer_id, TIMERS.c.done_at.is_(None))
                                    .values(done_at=now))
        if won.rowcount == 1:
            return await session.get(Timer, timer_id)
        skip = skip | {timer_id}   # another worker committed it between our read and our update


async def _note_failure(sessions, timer_id: int) -> None:
    """Count the failed attempt on the timer row, for an operator to see; never raises."""
    try:
        async with sessions() as session, session.begin():
            timer = await session.get(Timer, timer_id)
            if timer is not None and timer.done_at is None:
                timer.details = {**timer.details, "failures": int(timer.details.get("failures", 0)) + 1}
    except Exception:
        log.exception("timer %s: recording the failure failed", timer_id)
