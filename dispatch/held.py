"""Rows a session holds until it commits (a press's audit events and outbound messages), written then at once."""
from __future__ import annotations

# Why: a press records one event and tells the reporter, the supervisors and every card copy. Written as
# they come, that is a round trip each; held in the session, they go with the commit in the same
# transaction: on PostgreSQL in one statement (bench/lifecycle.py), on SQLite in one per table. A rollback
# drops them with everything else the transaction did.

import json
from typing import Any

from sqlalchemy import event, insert, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from store.models import Outbox, TicketEvent

EVENTS_KEY, OUTBOX_KEY = "audit_pending", "outbox_pending"
# Execution option of a statement that inserts outbox rows without being built on the outbox table (text): the
# relay's wake-up (relay/wakeup.py) cannot tell from its SQL.
WRITES_OUTBOX = "writes_outbox"
EVENTS, OUTBOX = TicketEvent.__table__, Outbox.__table__

NEW_EVENTS = insert(EVENTS)
# INSERT … ON CONFLICT (dedupe_key) DO NOTHING, run with one parameter set per row: a message already
# recorded under its key is kept as it is.
ENQUEUE = {name: ins(OUTBOX).on_conflict_do_nothing(index_elements=[OUTBOX.c.dedupe_key])
           for name, ins in (("postgresql", pg_insert), ("sqlite", sqlite_insert))}

EVENT_COLUMNS = {"ticket_id": "bigint", "at": "timestamptz", "actor": "varchar", "channel": "varchar",
                 "action": "varchar", "from_status": "varchar", "to_status": "varchar", "details": "json"}
OUTBOX_COLUMNS = {"dedupe_key": "varchar", "ticket_id": "bigint", "channel": "varchar", "recipient": "varchar",
                  "kind": "varchar", "payload": "json", "status": "varchar", "attempts": "integer",
                  "next_attempt_at": "timestamptz", "created_at": "timestamptz", "last_error": "varchar",
                  "platform_message_id": "varchar", "claimed_by": "varchar"}


def _unnest(prefix: str, columns: dict[str, str]) -> str:
    return ", ".join(f"CAST(:{prefix}{name} AS {kind}[])" for name, kind in columns.items())


# Both tables in one statement, whatever the number of rows: one array per column, so the SQL never changes.
BOTH_ON_POSTGRESQL = text(f"""
WITH events AS (
    INSERT INTO ticket_events ({", ".join(EVENT_COLUMNS)})
    SELECT * FROM unnest({_unnest("e_", EVENT_COLUMNS)})
)
INSERT INTO outbox ({", ".join(OUTBOX_COLUMNS)})
SELECT * FROM unnest({_unnest("o_", OUTBOX_COLUMNS)})
ON CONFLICT (dedupe_key) DO NOTHING
""")


def hold(session, key: str, rows: list[dict[str, Any]]) -> None:
    """Keep `rows` (column values of `key`'s table) for the session's commit."""
    session.info.setdefault(key, []).extend(rows)


def _arrays(prefix: str, columns: dict[str, str], rows: list[dict[str, Any]]) -> dict[str, list]:
    out = {}
    for name, kind in columns.items():
        values = [r[name] for r in rows]
        out[prefix + name] = [json.dumps(v) for v in values] if kind == "json" else values
    return out


@event.listens_for(Session, "before_commit")
def _write_held(session: Session) -> None:
    events, messages = session.info.pop(EVENTS_KEY, None), session.info.pop(OUTBOX_KEY, None)
    if not events and not messages:
        return
    session.flush()      # the rows' tickets first, as when they were written at once
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(BOTH_ON_POSTGRESQL, {**_arrays("e_", EVENT_COLUMNS, events or []),
                                             **_arrays("o_", OUTBOX_COLUMNS, messages or [])},
                        execution_options={WRITES_OUTBOX: bool(messages)})
        return
    if events:
        session.execute(NEW_EVENTS, events)
    if messages:
        session.execute(ENQUEUE[dialect], messages)


@event.listens_for(Session, "after_transaction_end")
def _forget_held(session: Session, transaction) -> None:
    if transaction.parent is None:       # rolled back or closed uncommitted: what it held goes with it
        session.info.pop(EVENTS_KEY, None)
        session.info.pop(OUTBOX_KEY, None)
