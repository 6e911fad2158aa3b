"""The inbox: a webhook's hand-off is stored once, survives a failed or dead worker, and is processed once."""
from __future__ import annotations

import asyncio

import pytest

from bot import keys
from bot.inbox import RedisInbox


async def test_offer_deduplicates_on_the_platform_id(client):
    inbox = client.app[keys.INBOX]
    assert await inbox.offer("wecom", "msg:1", {"xml": "<a/>"}) is True
    assert await inbox.offer("wecom", "msg:1", {"xml": "<a/>"}) is False  # WeCom's retry
    assert await inbox.offer("feishu", "msg:1", {"x": 1}) is True       # ids are per platform
    seen = []

    async def handle(item):
        seen.append((item.platform, item.payload))
    assert await inbox.drain(handle) == 2
    assert seen == [("wecom", {"xml": "<a/>"}), ("feishu", {"x": 1})]
    assert await inbox.drain(handle) == 0


async def test_a_failing_item_stays_for_a_retry(client):
    inbox = client.app[keys.INBOX]
    await inbox.offer("wecom", "msg:2", {"n": 2})
    calls = []

    async def flaky(item):
        calls.append(item.id)
        if len(calls) == 1:
            raise RuntimeError("database restarting")

    with pytest.raises(RuntimeError):
        await inbox.drain(flaky)
    assert await inbox.drain(flaky) == 1 and len(calls) == 2


async def test_an_item_a_dead_worker_held_is_taken_over(client, backend):
    """With Redis, another process claims what a dead consumer took but never acknowledged."""
    inbox = client.app[keys.INBOX]
    if not isinstance(inbox, RedisInbox):
        # One process: a dead worker is a dead service, and its pending rows are read again at start.
        await inbox.offer("wecom", "msg:3", {"n": 3})
        assert [i.payload for i in await inbox.take("worker-a", block_ms=0)] == [{"n": 3}]
        assert [i.payload for i in await inbox.take("worker-b", block_ms=0)] == [{"n": 3}]
        return
    taker = RedisInbox(inbox.redis, prefix=inbox.prefix, reclaim_idle_ms=0)
    await inbox.offer("wecom", "msg:3", {"n": 3})
    [held] = await inbox.take("worker-a", block_ms=0)   # worker-a dies here, never acks
    [again] = await taker.take("worker-b", block_ms=0)
    assert again.id == held.id and again.payload == {"n": 3}
    await taker.ack(again)
    assert await taker.take("worker-b", block_ms=0) == []


async def test_concurrent_retries_store_each_event_once(client):
    """A platform retrying while the first delivery is still being stored: exactly one copy is new."""
    import asyncio
    inbox = client.app[keys.INBOX]
    ids = ["a", "b", "a", "c", "b", "d"]
    results = await asyncio.gather(*(inbox.offer("wecom", i, {"i": i}) for i in ids))
    assert {i: [r for j, r in zip(ids, results) if j == i].count(True) for i in set(ids)} == \
        {"a": 1, "b": 1, "c": 1, "d": 1}
    seen = []

    async def handle(item):
        seen.append(item.payload["i"])
    assert await inbox.drain(handle) == 4 and sorted(seen) == ["a", "b", "c", "d"]


async def test_an_item_no_processor_here_can_read_is_kept(client):
    """A worker without that platform configured must leave the item for one that has it."""
    from bot.app import process_item
    inbox = client.app[keys.INBOX]
    await inbox.offer("nowhere", "x:1", {"n": 1})
    with pytest.raises(LookupError):
        await inbox.drain(lambda item: process_item(client.app, item))
    client.app[keys.PROCESSORS]["nowhere"] = lambda app, item: asyncio.sleep(0)
    assert await inbox.drain(lambda item: process_item(client.app, item)) == 1
