"""Redis storage: conversations shared by several processes, surviving a restart of any of them."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis

from conversations.storage.base import StateStorage, StorageKey


class RedisStorage(StateStorage):
    # Longest a crashed holder can keep a conversation locked; a step takes milliseconds.
    LOCK_TIMEOUT = 30.0

    def __init__(self, redis: Redis, prefix: str = "repairbot") -> None:
        self.redis = redis
        self.prefix = prefix
        self._deadline_key = f"{prefix}:fsm:deadlines"
        # Waiters in this process queue on an asyncio lock first, so only one of them polls Redis.
        self._local: dict[StorageKey, tuple[asyncio.Lock, int]] = {}

    @classmethod
    def from_url(cls, url: str, prefix: str = "repairbot", pool_size: int = 50) -> RedisStorage:
        # The default pool raises when exhausted; a blocking pool makes the caller wait instead.
        pool = BlockingConnectionPool.from_url(url, max_connections=pool_size, timeout=10)
        return cls(Redis(connection_pool=pool), prefix)

    def _key(self, key: StorageKey) -> str:
        return f"{self.prefix}:fsm:{key.encode()}"

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        local, users = self._local.get(key, (asyncio.Lock(), 0))
        self._local[key] = (local, users + 1)
        try:
            async with local:
                lock = self.redis.lock(
                    self._key(key) + ":lock", timeout=self.LOCK_TIMEOUT, sleep=0.005, blocking_timeout=self.LOCK_TIMEOUT,
                )
                if not await lock.acquire():
                    raise TimeoutError(f"conversation {key} stayed locked")
                try:
                    yield
                finally:
                    await lock.release()
        finally:
            local, users = self._local[key]
            if users <= 1:
                del self._local[key]
            else:
                self._local[key] = (local, users - 1)

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
