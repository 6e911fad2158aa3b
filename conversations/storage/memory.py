"""In-process storage: the embedded default for a single process."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from conversations.storage.base import Held, StateStorage, StorageKey
from store.clock import Clock


class MemoryStorage(StateStorage):
    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or Clock()
        self._values: dict[StorageKey, tuple[str, float]] = {}
        self._locks: dict[StorageKey, tuple[asyncio.Lock, int]] = {}
        self._deadlines: dict[StorageKey, float] = {}

    @asynccontextmanager
    async def hold(self, key: StorageKey) -> AsyncIterator[Held]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                held = Held(await self.get(key))
                yield held
                await self._apply(key, held)
        finally:
            # Forget the lock once nobody waits on it, so idle conversations cost nothing.
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def _apply(self, key: StorageKey, held: Held) -> None:
        if held.write is not None:
            await self.set(key, *held.write)
        elif held.drop:
            await self.delete(key)
        if held.due is not None:
            await self.schedule(key, held.due)
        elif held.clear_due:
            await self.unschedule(key)

    async def get(self, key: StorageKey) -> dict[str, Any] | None:
        item = self._values.get(key)
        if item is None:
            return None
        raw, expires = item
        if expires <= self._clock.now().timestamp():
            del self._values[key]
            return None
        # A JSON round trip keeps the two backends equal: callers never share a mutable dict.
        return json.loads(raw)

    async def set(self, key: StorageKey, value: dict[str, Any], ttl: int) -> None:
        self._values[key] = (json.dumps(value, ensure_ascii=False), self._clock.now().timestamp() + ttl)

    async def delete(self, key: StorageKey) -> None:
        self._values.pop(key, None)

    async def schedule(self, key: StorageKey, due: datetime) -> None:
        self._deadlines[key] = due.timestamp()

    async def unschedule(self, key: StorageKey) -> None:
        self._deadlines.pop(key, None)

    async def due(self, now: datetime, limit: int = 100) -> list[StorageKey]:
        t = now.timestamp()
        ready = sorted((d, k) for k, d in self._deadlines.items() if d <= t)
        return [k for _, k in ready[:limit]]
