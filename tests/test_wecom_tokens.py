"""bot.tokens: one cached token per name, refreshed by one fetcher at a time, invalidated only if still bad."""
from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from bot.tokens import Tokens, TokenUnavailable, cache_seconds


class Fetcher:
    def __init__(self, expires_in: int = 7200) -> None:
        self.calls = 0
        self.expires_in = expires_in
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> tuple[str, int]:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        return f"tok{self.calls}", self.expires_in


@pytest.fixture
async def redis(backend):
    if not backend.redis_url:
        yield None
        return
    client = Redis.from_url(backend.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def make_tokens(redis, backend, clock):
    def make() -> Tokens:
        return Tokens(clock, redis, prefix=backend.prefix, poll=0.001)
    return make


async def test_cached_until_shortly_before_expiry(make_tokens, clock):
    tokens, fetch = make_tokens(), Fetcher()
    assert await tokens.get("wecom:a", fetch) == "tok1"
    assert await tokens.get("wecom:a", fetch) == "tok1"
    clock.advance(cache_seconds(7200) - 1)
    assert await tokens.get("wecom:a", fetch) == "tok1"
    clock.advance(2)  # past the margin, still before WeCom's 7200 s
    assert await tokens.get("wecom:a", fetch) == "tok2"
    assert fetch.calls == 2


def test_margin_is_a_bit_shorter_than_expires_in():
    assert 7200 - 300 <= cache_seconds(7200) < 7200
    assert 0 < cache_seconds(10) < 10


async def test_invalidate_drops_only_the_bad_token(make_tokens):
    tokens, fetch = make_tokens(), Fetcher()
    assert await tokens.get("n", fetch) == "tok1"
    await tokens.invalidate("n", "some-older-token")       # a late 40014 for a token already replaced
    assert await tokens.get("n", fetch) == "tok1"
    await tokens.invalidate("n", "tok1")
    assert await tokens.get("n", fetch) == "tok2"


async def test_names_are_independent(make_tokens):
    tokens, a, b = make_tokens(), Fetcher(), Fetcher()
    assert await tokens.get("wecom:x", a) == "tok1"
    assert await tokens.get("feishu:y", b) == "tok1"
    assert (a.calls, b.calls) == (1, 1)


async def test_concurrent_gets_fetch_once_even_across_processes(make_tokens, backend):
    # Two Tokens objects stand for two processes; with Redis they share the cache and the lock.
    first, second = make_tokens(), make_tokens()
    fetch = Fetcher()
    fetch.gate = asyncio.Event()
    tasks = [asyncio.create_task(t.get("shared", fetch)) for t in (first, second, first, second)]
    for _ in range(1000):  # let the first fetcher start, so the others meet a held lock
        if fetch.calls:
            break
        await asyncio.sleep(0.001)
    fetch.gate.set()
    results = await asyncio.gather(*tasks)
    assert fetch.calls == (1 if backend.redis_url else 2)
    if backend.redis_url:
        assert set(results) == {"tok1"}


async def test_a_stuck_lock_holder_makes_waiters_give_up(redis_url, clock):
    """Only Redis has a cross-process lock, so this runs on Redis whatever the backend."""
    import uuid

    from redis.asyncio import Redis
    redis, prefix = Redis.from_url(redis_url), f"rbtest:{uuid.uuid4().hex[:8]}"
    try:
        await redis.set(f"{prefix}:token:stuck:lock", "someone", px=60_000)
        tokens = Tokens(clock, redis, prefix=prefix, lock_ms=20, poll=0.005)
        with pytest.raises(TokenUnavailable):
            await tokens.get("stuck", Fetcher())
    finally:
        await redis.delete(f"{prefix}:token:stuck:lock")
        await redis.aclose()


async def test_failed_fetch_releases_the_lock(make_tokens):
    tokens = make_tokens()

    async def broken() -> tuple[str, int]:
        raise RuntimeError("gettoken failed")

    with pytest.raises(RuntimeError):
        await tokens.get("n", broken)
    assert await tokens.get("n", Fetcher()) == "tok1"


async def test_a_process_keeps_its_copy_until_refused_then_takes_the_shared_new_token(make_tokens, backend):
    """Each API call asks for the token: it is answered from the process's copy, with no Redis round trip.
    When another process has replaced it, the platform refuses the old one once and the shared one is read."""
    if not backend.redis_url:
        pytest.skip("one process without Redis: nothing is shared")
    a, b, fetch = make_tokens(), make_tokens(), Fetcher()
    assert await a.get("mp", fetch) == "tok1"
    await b.invalidate("mp", "tok1")  # process B's call was refused: the shared entry goes
    assert await b.get("mp", fetch) == "tok2"  # B fetched anew
    assert await a.get("mp", fetch) == "tok1"  # A still answers from its own copy
    await a.invalidate("mp", "tok1")  # the platform refuses A's old copy once
    assert await a.get("mp", fetch) == "tok2" and fetch.calls == 2  # B's token, read, not fetched again
