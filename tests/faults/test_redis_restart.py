"""Redis restarted (SIGKILL, then started again on its append-only file) while the inbox holds 1,000
events, 100 of them taken by a worker and not yet acknowledged: all 1,000 are processed, each once.
A redis-server of the test's own (free port, temp dir) is the one killed; `/readyz` says whether the
Redis in use keeps an append-only file."""
from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from bot.services import services_of
from relay.inbox_worker import InboxWorker
from bot.runtime import process_item
from tests.faults.harness import RedisServer, cleanup, until, wecom_world

EVENTS, PEOPLE = 1000, 100


@pytest.fixture
def redis_aof(tmp_path):
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    yield server
    server.stop()


async def test_the_inbox_survives_a_redis_restart_and_each_event_is_processed_once(
        aiohttp_client, clock, pg_database, tmp_path, redis_aof):
    prefix = "rbfault"
    world = await wecom_world(aiohttp_client, clock, db_url=pg_database, redis_url=redis_aof.url, prefix=prefix,
                              tmp_path=tmp_path)
    app = world.app
    inbox = services_of(app).inbox
    try:
        for start in range(0, EVENTS, 50):  # WeCom delivering 1,000 messages of 100 residents
            await asyncio.gather(*(world.say(f"p{n % PEOPLE}", "你好") for n in range(start, start + 50)))
        assert await inbox.redis.xlen(inbox.stream) == EVENTS
        in_hand = await inbox.take("worker-1", count=100, block_ms=0)  # taken, not acknowledged
        assert len(in_hand) == 100

        redis_aof.kill()
        redis_aof.start()  # replays the append-only file before it answers
        resp = await world.client.get("/readyz")
        assert (await resp.json())["redis_persistence"] == "aof"

        handled: Counter[str] = Counter()

        async def count_and_process(item):
            await process_item(services_of(app), item)
            handled[item.id] += 1
        stop = asyncio.Event()
        worker = asyncio.create_task(InboxWorker(inbox, count_and_process, "worker-1", clock=clock,
                                                 pause=0.05, block_ms=50).run(stop))
        await until(lambda: len(handled) >= EVENTS, seconds=180, step=lambda: clock.advance(seconds=1))
        stop.set()
        await asyncio.wait_for(worker, 30)
        assert len(handled) == EVENTS and set(handled.values()) == {1}
        assert {i.id for i in in_hand} <= set(handled)  # what was in hand at the kill came back too
        assert await inbox.redis.xlen(inbox.stream) == 0 and await inbox.set_aside() == []
    finally:
        await services_of(app).courier.idle()
        await cleanup(pg_database, redis_aof.url, prefix)


async def test_readiness_reports_redis_without_persistence(aiohttp_client, clock, pg_database, tmp_path):
    server = RedisServer(tmp_path / "redis", appendonly=False)
    server.start()
    try:
        world = await wecom_world(aiohttp_client, clock, db_url=pg_database, redis_url=server.url, prefix="rbnoaof",
                                  tmp_path=tmp_path)
        resp = await world.client.get("/readyz")
        body = await resp.json()
        assert resp.status == 200 and body["status"] == "ok"  # still serving: losing traffic would lose more
        assert body["redis_persistence"] == "off" and "appendonly" in body["warnings"][0]
    finally:
        server.stop()
