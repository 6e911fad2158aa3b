"""Timers: rows with a due time (auto sign-off, the survey's reminder and lapse, escalation steps), each run
once when due, or cancelled by the change that made it moot.

This module only writes, leases and runs the rows; what each kind does lives in dispatch/timer_kinds.py and
dispatch/escalation.py, which register themselves here (`kind`). The split keeps this module a leaf: every
action may schedule a timer, and the timers call back into those same actions, so one module holding both
would be an import cycle.

Why a table of our own and not a job library (procrastinate, saq, taskiq, APScheduler 4): a timer is born
and cancelled in the transaction of the ticket change that causes it (an acknowledgement cancels the next
level in the same commit), and that must hold on SQLite too. saq and taskiq keep jobs in Redis (another
commit, no SQLite); procrastinate is PostgreSQL only and defers through its own connection; APScheduler 4's
data stores write schedules in their own transactions and run on wall-clock time, not the injected clock.
"""
from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dispatch.policy import Policy
from store.db import dialect_name
from store.models import Ticket, Timer

log = logging.getLogger(__name__)

TIMERS = Timer.__table__
INSERTS = {"postgresql": pg_insert, "sqlite": sqlite_insert}
INSERT_NEW = {name: insert(TIMERS).on_conflict_do_nothing(index_elements=["key"]) for name, insert in INSERTS.items()}
MAX_PER_RUN = 1000     # one sweep's share; what is left runs on the next
BATCH = 100            # timers leased per claim
LEASE = 300            # seconds a worker holds what it leased; a worker that dies lets it go when this runs out
PENDING, DONE, CANCELLED = "pending", "done", "cancelled"

Handler = Callable[..., Awaitable[None]]    # (session, timer, now, policy)
# kind → what it does; filled by dispatch/timer_kinds.py (`@kind("signoff_auto")`) and dispatch/escalation.py.
KINDS: dict[str, Handler] = {}


def kind(name: str) -> Callable[[Handler], Handler]:
    """Register the handler of a timer kind."""
    def register(handler: Handler) -> Handler:
        KINDS[name] = handler
        return handler
    return register


class UnknownKind(LookupError):
    """A due timer of a kind nobody registered here: left due, for a process that knows it."""


def _stamp(t: datetime) -> int:
    return int(t.timestamp())


async def schedule(session, ticket: Ticket, kind: str, due_at: datetime, **details) -> None:
    """Run `kind` for this ticket at `due_at` (by the injected clock's sweep, `run_due`), in the caller's
    transaction; scheduled again with the same kind and time, it is written once."""
    if ticket.id is None:
        await session.flush()
    await put(session, f"{kind}:{ticket.id}:{_stamp(due_at)}", kind, due_at, ticket.id, details, move=False)


async def schedule_many(session, ticket: Ticket, due: list[tuple[str, datetime]]) -> None:
    """`schedule` for several (kind, due_at) of one ticket, in one statement."""
    rows = [dict(key=f"{kind}:{ticket.id}:{_stamp(at)}", kind=kind, due_at=at, ticket_id=ticket.id, details={},
                 status=PENDING, claimed_by="") for kind, at in due]
    await insert_new(session, rows)


async def insert_new(session, rows: list[dict]) -> None:
    """Timer rows (all columns but the lease's) in one statement; a key already there keeps its timer."""
    if rows:
        await session.execute(INSERT_NEW[dialect_name(session)], rows)


async def put(session, key: str, kind: str, due_at: datetime, ticket_id: int | None, details: dict,
              *, move: bool = True) -> None:
    """The timer `key`, pending at `due_at`, in the caller's transaction. One already there keeps its place
    unless `move`: then a pending or cancelled one is (re)scheduled at `due_at` with `details`; a done one
    stays done (a timer never fires twice)."""
    insert = INSERTS[dialect_name(session)](TIMERS).values(
        key=key, kind=kind, due_at=due_at, ticket_id=ticket_id, details=details, status=PENDING, claimed_by="")
    if move:
        stmt = insert.on_conflict_do_update(
            index_elements=["key"], set_=dict(due_at=insert.excluded.due_at, details=insert.excluded.details,
                                             status=PENDING, lease_until=None, claimed_by=""),
            where=TIMERS.c.status != DONE)
    else:
        stmt = insert.on_conflict_do_nothing(index_elements=["key"])
    await session.execute(stmt)


async def cancel(session, *keys: str) -> int:
    """Cancel these timers if still pending, in the caller's transaction; how many were."""
    if not keys:
        return 0
    done = await session.execute(update(TIMERS).where(TIMERS.c.key.in_(keys), TIMERS.c.status == PENDING)
                                 .values(status=CANCELLED).execution_options(synchronize_session=False))
    return done.rowcount


async def run_due(sessions, now: datetime, policy: Policy, worker: str = "") -> int:
    """Run every timer due at `now` once, each in its own transaction; returns how many ran.

    Several workers may sweep at once. A worker leases a batch of due timers (`claimed_by`, `lease_until`;
    on PostgreSQL `FOR UPDATE SKIP LOCKED` lets two workers lease different rows at the same moment, SQLite
    has one writer at a time), then runs each: the conditional UPDATE that marks it done — only while still
    pending and leased to this worker — commits with its work. A timer whose work fails rolls back with it:
    it stays pending, is logged and counted (`details.failures`), its lease let go, and runs on the next sweep. A
    worker that dies holding leases lets them go at `lease_until`. One that committed never runs again.
    """
    worker = worker or _me()
    ran, failed = 0, set()
    while ran < MAX_PER_RUN:
        try:
            async with sessions() as session, session.begin():
                leased = await lease(session, now, worker, BATCH, skip=failed)
        except Exception:   # the database is away: the next sweep tries
            log.exception("timers: leasing due timers failed")
            break
        if not leased:
            break
        for timer_id in leased:
            try:
                async with sessions() as session, session.begin():
                    timer = await _take(session, timer_id, now, worker)
                    if timer is None:
                        continue   # cancelled meanwhile, or run by another worker after our lease ran out
                    handler = KINDS.get(timer.kind)
                    if handler is None:
                        raise UnknownKind(timer.kind)
                    await handler(session, timer, now, policy)
                ran += 1
            except Exception:
                log.exception("timer %s failed; it runs again on the next sweep", timer_id)
                failed.add(timer_id)
                await _note_failure(sessions, timer_id)
    return ran


def due_query(now: datetime, limit: int, skip: set[int] = frozenset()):
    """The next due pending timers nobody holds, oldest first (what the partial index ix_timers_pending serves)."""
    query = (select(TIMERS.c.id).where(TIMERS.c.status == PENDING, TIMERS.c.due_at <= now,
                                       or_(TIMERS.c.lease_until.is_(None), TIMERS.c.lease_until <= now))
             .order_by(TIMERS.c.due_at).limit(limit)
             .with_for_update(skip_locked=True))   # PostgreSQL; SQLite has one writer and ignores it
    return query.where(TIMERS.c.id.not_in(skip)) if skip else query


async def lease(session, now: datetime, worker: str, limit: int = BATCH, skip: set[int] = frozenset()) -> list[int]:
    """Lease up to `limit` due timers to `worker` until now + LEASE; their ids, oldest first."""
    ids = list((await session.execute(due_query(now, limit, skip))).scalars())
    if not ids:
        return []
    # Conditional again: on SQLite another worker may have leased one between the read and this write.
    rows = await session.execute(
        update(TIMERS).where(TIMERS.c.id.in_(ids), TIMERS.c.status == PENDING,
                             or_(TIMERS.c.lease_until.is_(None), TIMERS.c.lease_until <= now))
        .values(claimed_by=worker, lease_until=now + timedelta(seconds=LEASE))
        .returning(TIMERS.c.id, TIMERS.c.due_at))
    return [r.id for r in sorted(rows, key=lambda r: (r.due_at, r.id))]


async def _take(session, timer_id: int, now: datetime, worker: str) -> Timer | None:
    """Mark the leased timer done in this transaction (its work commits with it); None when it is not ours."""
    won = await session.execute(update(TIMERS).where(TIMERS.c.id == timer_id, TIMERS.c.status == PENDING,
                                                     TIMERS.c.claimed_by == worker)
                                .values(status=DONE, done_at=now).execution_options(synchronize_session=False))
    if won.rowcount != 1:
        return None
    return await session.get(Timer, timer_id, populate_existing=True)


async def _note_failure(sessions, timer_id: int) -> None:
    """Count the failed attempt on the timer row, for an operator to see; never raises."""
    try:
        async with sessions() as session, session.begin():
            timer = await session.get(Timer, timer_id)
            if timer is not None and timer.status == PENDING:
                timer.claimed_by, timer.lease_until = "", None   # free for the next sweep, by any worker
                timer.details = {**timer.details, "failures": int(timer.details.get("failures", 0)) + 1}
    except Exception:
        log.exception("timer %s: recording the failure failed", timer_id)


def _me() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
