"""A step's database work: lookups outside any transaction until the step writes, then one transaction."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker


class StepDatabase:
    """At most one connection per step, so concurrent steps never wait on each other for a second one.

    A step that only reads (most messages) pays no BEGIN and COMMIT round trips; the first write
    gives the lookup connection back and opens the step's transaction, which the engine commits
    once the step has succeeded (or rolls back when it failed).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._lookups: AsyncSession | None = None    # a session on an AUTOCOMMIT connection
        self._lookup_conn: AsyncConnection | None = None
        self._work: AsyncSession | None = None       # the step's transaction

    async def lookup(self) -> AsyncConnection:
        """A connection for read-only Core queries: the step's transaction once there is one."""
        if self._work is not None:
            return await self._work.connection()
        if self._lookup_conn is None:
            self._lookups = self._sessions()
            self._lookup_conn = await self._lookups.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        return self._lookup_conn

    async def session(self) -> AsyncSession:
        """The step's transaction, for writes and the ORM."""
        if self._work is None:
            await self._close_lookups()
            self._work = self._sessions()
        return self._work

    async def end(self, ok: bool) -> None:
        """Commit (or, after a failure, roll back) the step's writes and give the connection back."""
        work, self._work = self._work, None
        try:
            if work is not None:
                try:
                    if ok:
                        await work.commit()
                finally:
                    await work.close()
        finally:
            await self._close_lookups()

    async def _close_lookups(self) -> None:
        lookups, self._lookups, self._lookup_conn = self._lookups, None, None
        if lookups is not None:
            await lookups.close()
