"""One async access-token cache for every platform: Redis-backed and locked across processes, or in-process."""
from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Protocol

from redis.asyncio import Redis

from store.clock import Clock

log = logging.getLogger(__name__)

Fetcher = Callable[[], Awaitable[tuple[str, int]]]
Sleep = Callable[[float], Awaitable[None]]

# Lua: delete the key only while it still holds what we wrote (lock) or the bad token (invalidate).
_DEL_IF = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class TokenCache(Protocol):
    """What a platform client needs (`Tokens`, or a test's own)."""

    async def get(self, name: str, fetch: Fetcher) -> str: ...

    async def invalidate(self, name: str, token: str) -> None: ...


class TokenUnavailable(Exception):
    """Another process held the refresh lock for too long and no token appeared."""


def cache_seconds(expires_in: int) -> int:
    """Keep a token a bit shorter than the platform says, so no call races its expiry."""
    margin = min(300, max(expires_in // 5, 1))
    return max(expires_in - margin, 1)


class Tokens:
    """get / invalidate tokens by name; the injected clock decides expiry, Redis TTL is only a backstop.

    A platform hands `get` a name (e.g. "wecom:<corp>:<agent>") and a fetcher returning (token, expires_in).
    The WeChat Official Account invalidates the previous token on every fetch, so at most one process may
    fetch at a time: with Redis a `SET NX PX` lock elects the fetcher and the others wait and re-read.
    """

    def __init__(self, clock: Clock, redis: Redis | None = None, *, prefix: str = "repairbot",
                 lock_ms: int = 10_000, poll: float = 0.05, sleep: Sleep = asyncio.sleep) -> None:
        self.clock = clock
        self.redis = redis
        self.prefix = prefix
        self.lock_ms = lock_ms
        self.poll = poll
        self._sleep = sleep
        self._memory: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _key(self, name: str) -> str:
        return f"{self.prefix}:token:{name}"

    async def get(self, name: str, fetch: Fetcher) -> str:
        # Every API call asks: answer from this process's copy while it is valid (with Redis, a copy of
        # the shared token; a platform refusing it leads to `invalidate` and one fresh read).
        cached = self._memory.get(name)
        if cached and cached[1] > self._now():
            return cached[0]
        # One fetch per process even without Redis; with Redis the lock below covers other processes.
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            if self.redis is None:
                return await self._get_memory(name, fetch)
            return await self._get_redis(name, fetch)

    async def invalidate(self, name: str, token: str) -> None:
        """Drop the cached token only if it is still `token` (someone may already have refreshed it)."""
        cached = self._memory.get(name)
        if cached and secrets.compare_digest(cached[0], token):
            del self._memory[name]
        if self.redis is not None:
            await self.redis.eval(_DEL_IF, 1, self._key(name), "token", token)

    async def _get_memory(self, name: str, fetch: Fetcher) -> str:
        cached = self._memory.get(name)
        if cached and cached[1] > self._now():
            return cached[0]
        token, expires_in = await fetch()
        self._memory[name] = (token, self._now() + cache_seconds(expires_in))
        return token

    async def _read(self, name: str) -> str | None:
        assert self.redis is not None
        raw = await self.redis.hmget(self._key(name), ["token", "exp"])
        token, exp = raw
        if token is None or exp is None or float(exp) <= self._now():
            return None
        token = token.decode() if isinstance(token, bytes) else token
        self._memory[name] = (token, float(exp))
        return token

    async def _get_redis(self, name: str, fetch: Fetcher) -> str:
        assert self.redis is not None
        waited = 0.0
        lock_key = self._key(name) + ":lock"
        while True:
            token = await self._read(name)
            if token:
                return token
            me = secrets.token_hex(8)
            if await self.redis.set(lock_key, me, nx=True, px=self.lock_ms):
                try:
                    token = await self._read(name)  # written while we were taking the lock
                    if token:
                        return token
                    token, expires_in = await fetch()
                    ttl = cache_seconds(expires_in)
                    exp = self._now() + ttl
                    async with self.redis.pipeline(transaction=True) as pipe:
                        pipe.hset(self._key(name), mapping={"token": token, "exp": exp})
                        pipe.pexpire(self._key(name), ttl * 1000)
                        await pipe.execute()
                    self._memory[name] = (token, exp)
                    return token
                finally:
                    await self.redis.eval(_UNLOCK, 1, lock_key, me)
            if waited * 1000 >= self.lock_ms:
                raise TokenUnavailable(name)
            await self._sleep(self.poll)
            waited += self.poll
