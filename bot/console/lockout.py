"""Failed logins counted per username: the fifth wrong password within the window locks it for a while.

Counted on the service's injected clock, in Redis when the service has one (every web process sees the
same count), else in this process. Redis only forgets a finished count (its TTL); the clock decides.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from datetime import datetime, timezone

from store.clock import Clock

LIMIT = 5            # wrong passwords …
WINDOW = 15 * 60     # … within this many seconds of the first …
LOCK = 15 * 60       # … lock the username this long
MEMORY_KEYS = 10_000  # usernames tried and failed that one process remembers (the oldest forgotten first)
REDIS_TTL = 24 * 3600

# KEYS[1] the username's hash; ARGV now, limit, window, lock, ttl (whole seconds). Returns the lock's end, or 0.
_FAIL = """
local now, limit, window, lock, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local held = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if held > now then return held end
local first = tonumber(redis.call('HGET', KEYS[1], 'first') or '0')
local count = tonumber(redis.call('HGET', KEYS[1], 'count') or '0')
if first == 0 or now - first >= window then first, count = now, 0 end
count = count + 1
redis.call('DEL', KEYS[1])
if count >= limit then
  redis.call('HSET', KEYS[1], 'until', now + lock)
  redis.call('EXPIRE', KEYS[1], ttl)
  return now + lock
end
redis.call('HSET', KEYS[1], 'first', first, 'count', count)
redis.call('EXPIRE', KEYS[1], ttl)
return 0
"""


def key_of(username: str) -> str:
    """What a username's count is kept under (a digest: a Redis key holds no phone number)."""
    return hashlib.sha256(username.encode()).hexdigest()[:32]


class Lockout:
    def __init__(self, clock: Clock, redis=None, prefix: str = "repairbot") -> None:
        self.clock, self.redis, self.prefix = clock, redis, prefix
        self._memory: OrderedDict[str, tuple[int, int, int]] = OrderedDict()   # key → (first, count, until)

    def _now(self) -> int:
        return int(self.clock.now().timestamp())

    async def locked_until(self, username: str) -> datetime | None:
        """When the lock on `username` ends, or None when it may try."""
        now, key = self._now(), key_of(username)
        if self.redis is not None:
            raw = await self.redis.hget(self._redis_key(key), "until")
            until = int(raw) if raw else 0
        else:
            until = self._memory.get(key, (0, 0, 0))[2]
        return _at(until) if until > now else None

    async def failed(self, username: str) -> datetime | None:
        """Count one wrong password; when this one locks the username, when the lock ends."""
        now, key = self._now(), key_of(username)
        if self.redis is not None:
            until = int(await self.redis.eval(_FAIL, 1, self._redis_key(key), now, LIMIT, WINDOW, LOCK, REDIS_TTL))
            return _at(until) if until > now else None
        first, count, until = self._memory.pop(key, (0, 0, 0))
        if until > now:
            self._memory[key] = (first, count, until)
            return _at(until)
        if not first or now - first >= WINDOW:
            first, count = now, 0
        count += 1
        until = now + LOCK if count >= LIMIT else 0
        self._memory[key] = (0, 0, until) if until else (first, count, 0)
        while len(self._memory) > MEMORY_KEYS:
            self._memory.popitem(last=False)
        return _at(until) if until else None

    async def succeeded(self, username: str) -> None:
        """A right password (not while locked) starts the count again."""
        key = key_of(username)
        if self.redis is not None:
            await self.redis.delete(self._redis_key(key))
        else:
            self._memory.pop(key, None)

    def _redis_key(self, key: str) -> str:
        return f"{self.prefix}:console:login:{key}"


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)
