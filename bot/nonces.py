"""Signed (timestamp, nonce) pairs honoured once: for signatures that do not cover the body.

The Official Account's plain mode signs only token + timestamp + nonce, so a captured request could be
replayed with another body for as long as its timestamp stays inside the replay window. Each pair is
remembered with the id of the message it first carried until its timestamp leaves the window: the same
message again (the platform's own retry) passes on to the inbox's de-duplication, another message is a
replay. Redis `SET NX` when Redis is configured (every process sees the pair), a bounded in-process map
otherwise (the embedded default runs one process).
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict

from redis.asyncio import Redis

from bot.rejections import WINDOW
from store.clock import Clock


class NonceLedger:
    MAX_MEMORY = 100_000  # pairs come only from correctly signed requests: far more than a platform sends in 10 min

    def __init__(self, clock: Clock, redis: Redis | None, namespace: str, *, prefix: str = "repairbot",
                 window: int = WINDOW) -> None:
        self.clock, self.redis, self.prefix = clock, redis, prefix
        self.namespace = namespace
        self.window = window
        self._memory: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()

    async def first(self, timestamp: str, nonce: str, message_id: str) -> bool:
        """True for the first request with this pair and for a repeat of the same message; False when the
        pair comes back carrying another message. Call after the signature and timestamp checks."""
        now = self.clock.now().timestamp()
        # Remembered until the timestamp is outside the window, after which the window check refuses it.
        ttl = max(1, int(int(timestamp) + self.window - now) + 1)
        redis = self.redis
        if redis is not None:
            digest = hashlib.sha1(f"{timestamp}:{nonce}".encode("utf-8", "surrogatepass")).hexdigest()
            key = f"{self.prefix}:nonce:{self.namespace}:{digest}"
            if await redis.set(key, message_id, nx=True, ex=ttl):
                return True
            seen = await redis.get(key)
            return (seen.decode() if isinstance(seen, bytes) else seen) == message_id
        return self._first_in_memory((timestamp, nonce), message_id, now, now + ttl)

    def _first_in_memory(self, pair: tuple[str, str], message_id: str, now: float, expires: float) -> bool:
        while self._memory:  # arrival order is close to expiry order: drop what has left the window
            oldest = next(iter(self._memory.values()))
            if oldest[0] > now and len(self._memory) < self.MAX_MEMORY:
                break
            self._memory.popitem(last=False)
        seen = self._memory.get(pair)
        if seen is not None and seen[0] > now:
            return seen[1] == message_id
        self._memory[pair] = (expires, message_id)
        return True
