"""The reply window: when a person last wrote to us, and how many messages we sent since (kv rows)."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.messengers import Undeliverable
from store.clock import Clock
from store.models import KeyValue

WINDOW_CLOSED = "window_closed"
QUOTA_USED = "quota_used"
_KEY_LIMIT = 64  # kv.key is VARCHAR(64)
_CAS_TRIES = 8


class ReplyWindow:
    """Both WeChat channels let us write only within `seconds` of the person's last message; WeCom kf also
    caps how many messages follow one of theirs. Rows live in the database so the outbox sender in another
    process sees what the inbox worker recorded.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock, namespace: str,
                 *, seconds: int = 48 * 3600, per_message: int | None = None) -> None:
        self._sessions = sessions
        self.clock = clock
        self.namespace = namespace
        self.seconds = seconds
        self.per_message = per_message

    def key(self, user: str) -> str:
        key = f"{self.namespace}:{user}"
        if len(key) > _KEY_LIMIT:
            key = f"{self.namespace}:#{hashlib.sha1(user.encode()).hexdigest()}"
        return key

    async def opened(self, user: str, at: datetime | None = None, **extra: str) -> None:
        """The person wrote at `at`: the window reopens and the per-message count starts again."""
        at = at or self.clock.now()
        value = json.dumps({"at": at.isoformat(), "sent": 0, **extra}, separators=(",", ":"))
        async with self._sessions() as session, session.begin():
            insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
            stmt = insert(KeyValue).values(key=self.key(user), value=value)
            await session.execute(stmt.on_conflict_do_update(index_elements=[KeyValue.key],
                                                             set_={"value": stmt.excluded.value}))

    async def get(self, user: str) -> dict[str, Any] | None:
        raw = await self._raw(user)
        return json.loads(raw) if raw else None

    async def claim(self, user: str) -> dict[str, Any]:
        """Take one send from the window or raise Undeliverable. An unknown person passes: the platform
        decides (someone who wrote before this record existed may still be inside their window)."""
        for _ in range(_CAS_TRIES):
            raw = await self._raw(user)
            if raw is None:
                return {}
            record = json.loads(raw)
            self._check(record)
            if self.per_message is None:
                return record
            new = {**record, "sent": int(record.get("sent", 0)) + 1}
            if await self._swap(user, raw, new):
                return new
        raise RuntimeError(f"reply window for {self.namespace} kept changing; giving up")  # pragma: no cover

    async def release(self, user: str) -> None:
        """Give back a claimed send that never reached the platform."""
        if self.per_message is None:
            return
        for _ in range(_CAS_TRIES):
            raw = await self._raw(user)
            if raw is None:
                return
            record = json.loads(raw)
            new = {**record, "sent": max(int(record.get("sent", 0)) - 1, 0)}
            if await self._swap(user, raw, new):
                return

    def _check(self, record: dict[str, Any]) -> None:
        last = datetime.fromisoformat(record["at"])
        if self.clock.now() - last > timedelta(seconds=self.seconds):
            raise Undeliverable(f"{self.namespace}: more than {self.seconds // 3600} h since the person last wrote",
                                code=WINDOW_CLOSED)
        if self.per_message is not None and int(record.get("sent", 0)) >= self.per_message:
            raise Undeliverable(f"{self.namespace}: {self.per_message} messages already sent since the person "
                                f"last wrote", code=QUOTA_USED)

    async def _raw(self, user: str) -> str | None:
        async with self._sessions() as session:
            return (await session.execute(select(KeyValue.value).where(KeyValue.key == self.key(user)))
                    ).scalar_one_or_none()

    async def _swap(self, user: str, old: str, new: dict[str, Any]) -> bool:
        # Compare-and-set: two senders racing for the last allowed message cannot both get it.
        value = json.dumps(new, separators=(",", ":"))
        async with self._sessions() as session, session.begin():
            result = await session.execute(update(KeyValue).where(KeyValue.key == self.key(user),
                                                                  KeyValue.value == old).values(value=value))
            return result.rowcount == 1
