"""Wakes the outbox loop when a transaction that wrote outbox rows has committed, so cards leave at once.

Domain code writes outbox rows inside its own transactions (a filed ticket's cards, an accepted ticket's
card updates) and knows nothing of the relay. The database tells instead: an INSERT into `outbox` marks
its connection, and when that connection goes back to the pool — after its transaction committed — the
loop is woken. A rolled-back transaction clears the mark. Other processes' rows are found by the loop's
poll; the rows the courier sends itself are written with `QUIET` and wake nobody.
"""
from __future__ import annotations

import asyncio

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from dispatch.held import WRITES_OUTBOX

QUIET = {"outbox_wakeup": False}  # execution options of a writer whose rows need no outbox loop
_MARK = "outbox_written"


class OutboxWakeup:
    def __init__(self, database: AsyncEngine | None = None) -> None:
        self._event = asyncio.Event()
        if database is not None:
            self.watch(database)

    def watch(self, database: AsyncEngine) -> None:
        pool = database.sync_engine
        event.listen(pool, "after_cursor_execute", self._written)
        event.listen(pool, "rollback", self._rolled_back)
        event.listen(pool, "checkin", self._returned)

    def set(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> None:
        """Until woken or `timeout` seconds passed (the poll for other processes' rows and retries)."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout=timeout)
        except asyncio.TimeoutError:
            pass
        self._event.clear()

    @staticmethod
    def _written(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if context is None or not context.execution_options.get("outbox_wakeup", True):
            return
        if context.execution_options.get(WRITES_OUTBOX):     # a textual statement that says so (dispatch/held.py)
            conn.info[_MARK] = True
            return
        if not context.isinsert:
            return
        table = getattr(getattr(context.compiled, "statement", None), "table", None)
        if getattr(table, "name", None) == "outbox":
            conn.info[_MARK] = True

    @staticmethod
    def _rolled_back(conn) -> None:  # noqa: ANN001
        conn.info.pop(_MARK, None)

    def _returned(self, dbapi_connection, record) -> None:  # noqa: ANN001
        if record is not None and record.info.pop(_MARK, False):
            self._event.set()
