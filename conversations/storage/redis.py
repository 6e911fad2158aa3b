"""Redis storage: conversations shared by several processes, surviving a restart of any of them."""
from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis

from conversations.storage.base import Held, LockLost, StateStorage, StorageKey

# Take the lock and read the value in one round trip: {1, value or nil} when taken, {0} when held elsewhere.
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, redis.call('GET', KEYS[2])}
end
return {0}
"""

# Write the step's changes and release the lock in one round trip, only while the token still holds it:
# a holder whose lock expired must not overwrite what the next holder saved. 1 when done, 0 when not.
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == 'set' then
  redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
elseif ARGV[2] == 'del' then
  redis.call('DEL', KEYS[2])
end
if ARGV[5] == 'add' then
  redis.call('ZADD', KEYS[3], ARGV[7], ARGV[6])
elseif ARGV[5] == 'rem' then
  redis.call('ZREM', KEYS[3], ARGV[6])
end
redis.call('DEL', KEYS[1])
return 1
"""


class RedisStorage(StateStorage):
    # Longest a crashed holder can keep a conversation locked; a step takes milliseconds.
    LOCK_TIMEOUT = 30.0
    POLL = 0.005  # seconds between tries while another process holds the lock

    def __init__(self, redis: Redis, prefix: str = "repairbot") -> None:
        self.redis = redis
        self.prefix = prefix
        self._deadline_key = f"{prefix}:fsm:deadlines"
        # Waiters in this process queue on an asyncio lock first, so only one of them polls Redis.
        self._local: dict[StorageKey, tuple[asyncio.Lock, int]] = {}
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, prefix: str = "repairbot", pool_size: int = 50) -> RedisStorage:
        # The default pool raises when exhausted; a blocking pool makes the caller wait instead.
        pool = BlockingConnectionPool.from_url(url, max_connections=pool_size, timeout=10)
        return cls(Redis(connection_pool=pool), prefix)

    def _key(self, key: StorageKey) -> str:
        return f"{self.prefix}:fsm:{key.encode()}"

    @asynccontextmanager
    async def hold(self, key: StorageKey) -> AsyncIterator[Held]:
        local, users = self._local.get(key, (asyncio.Lock(), 0))
        self._local[key] = (local, users + 1)
        try:
            async with local:
                name, token = self._key(key), uuid.uuid4().hex
                held = Held(await self._take(key, name, token))
                try:
                    yield held
                except BaseException:
                    # A failed step writes nothing; if even the release fails, the lock times out by itself
                    # and the step's own error is the one worth reporting.
                    with contextlib.suppress(Exception):
                        await self._release(keys=[name + ":lock", name, self._deadline_key],
                                            args=[token, "", "", 0, "", "", 0])
                    raise
                if not await self._release(keys=[name + ":lock", name, self._deadline_key],
                                           args=[token, *self._changes(key, held)]):
                    raise LockLost(f"conversation {key} was locked longer than {self.LOCK_TIMEOUT:g} s")
        finally:
            local, users = self._local[key]
            if users <= 1:
                del self._local[key]
            else:
                self._local[key] = (local, users - 1)

    async def _take(self, key: StorageKey, name: str, token: str) -> dict[str, Any] | None:
        """Take the lock (waiting while another process holds it) and return the value it guards."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.LOCK_TIMEOUT
        ms = int(self.LOCK_TIMEOUT * 1000)
        while True:
            reply = await self._acquire(keys=[name + ":lock", name], args=[token, ms])
            if reply[0]:
                return json.loads(reply[1]) if reply[1] is not None else None
            if loop.time() >= give_up:
                raise TimeoutError(f"conversation {key} stayed locked")
            await asyncio.sleep(self.POLL)

    @staticmethod
    def _changes(key: StorageKey, held: Held) -> list[str | int | float]:
        """The `_RELEASE` arguments after the token: value op, value, ttl, deadline op, member, score."""
        if held.write is not None:
            value, ttl = held.write
            args: list[str | int | float] = ["set", json.dumps(value, ensure_ascii=False), ttl]
        else:
            args = ["del" if held.drop else "", "", 0]
        if held.due is not None:
            args += ["add", key.encode(), held.due.timestamp()]
        else:
            args += ["rem" if held.clear_due else "", key.encode(), 0]
        return args

    async def get(self, key: StorageKey) -> dict[str, Any] | None:
        raw = await self.redis.get(self._key(key))
        return json.loads(raw) if raw is not None else None

    async def set(self, key: StorageKey, value: dict[str, Any], ttl: int) -> None:
        await self.redis.set(self._key(key), json.dumps(value, ensure_ascii=False), ex=ttl)

    async def delete(self, key: StorageKey) -> None:
        await self.redis.delete(self._key(key))

    async def schedule(self, key: StorageKey, due: datetime) -> None:
        await self.redis.zadd(self._deadline_key, {key.encode(): due.timestamp()})

    async def unschedule(self, key: StorageKey) -> None:
        await self.redis.zrem(self._deadline_key, key.encode())

    async def due(self, now: datetime, limit: int = 100) -> list[StorageKey]:
        members = await self.redis.zrangebyscore(self._deadline_key, "-inf", now.timestamp(), start=0, num=limit)
        return [StorageKey.decode(m) for m in members]

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    async def close(self) -> None:
        await self.redis.aclose()
