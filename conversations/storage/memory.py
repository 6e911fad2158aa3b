"""In-process storage: the embedded default for a single process."""
from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from conversations.storage.base import Held, StateStorage, StorageKey
from conversations import metrics
from store.clock import Clock

log = logging.getLogger(__name__)
# Anyone may write to the bot, under as many ids as they like: the state held for them has a ceiling.
MAX_CONVERSATIONS = 100_000


class MemoryStorage(StateStorage):
    """At most `max_keys` conversations: past that the one written longest ago is forgotten (with its idle
    deadline), and values past their TTL are dropped as the sweeper passes, not only when read again."""

    def __init__(self, clock: Clock | None = None, max_keys: int = MAX_CONVERSATIONS) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._clock = clock or Clock()
        self.max_keys = max_keys
        # Least recently written first: the front is what an eviction or an expiry sweep looks at.
        self._values: OrderedDict[StorageKey, tuple[str, float]] = OrderedDict()
        self._locks: dict[StorageKey, tuple[asyncio.Lock, int]] = {}
        self._deadlines: dict[StorageKey, float] = {}
        self._evicted = 0

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
        self._values.move_to_end(key)
        if len(self._values) > self.max_keys:
            self._evict()

    def _evict(self) -> None:
        now = self._clock.now().timestamp()
        while len(self._values) > self.max_keys:
            key, (_, expires) = self._values.popitem(last=False)
            self._deadlines.pop(key, None)
            if expires > now:  # a live conversation forgotten: the ceiling is too low for this traffic
                metrics.STATE_EVICTED.inc()
                self._evicted += 1
                if self._evicted % 1000 == 1:  # a flood must not flood the log too
                    log.warning("in-memory conversation state is full (intake.max_conversations = %d): "
                                "forgot the least recently active conversation (%d so far)",
                                self.max_keys, self._evicted)

    def _drop_expired(self, now: float) -> None:
        """From the least recently written on, while expired: TTLs barely differ, so this finds nearly all."""
        while self._values:
            key, (_, expires) = next(iter(self._values.items()))
            if expires > now:
                return
            # Its idle deadline, if any, stays (as on Redis): the sweeper unschedules what has no draft.
            del self._values[key]

    async def delete(self, key: StorageKey) -> None:
        self._values.pop(key, None)

    def __len__(self) -> int:
        return len(self._values)

    async def schedule(self, key: StorageKey, due: datetime) -> None:
        self._deadlines[key] = due.timestamp()

    async def unschedule(self, key: StorageKey) -> None:
        self._deadlines.pop(key, None)

    async def due(self, now: datetime, limit: int = 100) -> list[StorageKey]:
        t = now.timestamp()
        self._drop_expired(t)  # the sweeper calls this every few seconds: the natural moment to tidy
        ready = sorted((d, k) for k, d in self._deadlines.items() if d <= t)
        return [k for _, k in ready[:limit]]
