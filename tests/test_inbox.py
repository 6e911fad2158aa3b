"""The inbox: a webhook's hand-off is stored once, survives a failed or dead worker, and is processed once."""
from __future__ import annotations

import asyncio

import pytest

from bot.services import services_of
from relay.inbox_worker import InboxWorker
from relay.inbox import RedisInbox
from tests.conftest import START, auth


async def test_offer_deduplicates_on_the_platform_id(client):
    inbox = services_of(client.app).inbox
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
    inbox = services_of(client.app).inbox
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
    inbox = services_of(client.app).inbox
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
    inbox = services_of(client.app).inbox
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
    from bot.runtime import process_item
    inbox = services_of(client.app).inbox
    await inbox.offer("nowhere", "x:1", {"n": 1})
    with pytest.raises(LookupError):
        await inbox.drain(lambda item: process_item(services_of(client.app), item))
    services_of(client.app).processors["nowhere"] = lambda item: asyncio.sleep(0)
    assert await inbox.drain(lambda item: process_item(services_of(client.app), item)) == 1


async def _run_until(inbox, handler, done: asyncio.Event, **kw) -> None:
    """The worker loop, stopped once `done` is set (it finishes its round first)."""
    kw = {"pause": 0, **kw}
    await asyncio.wait_for(InboxWorker(inbox, handler, "worker-t", block_ms=20, **kw).run(done), timeout=10)


async def test_one_persons_items_keep_their_order_while_other_people_go_concurrently(client):
    inbox = services_of(client.app).inbox
    for n, who in enumerate(["alice", "alice", "bob", "alice"]):
        await inbox.offer("wecom", f"m{n}", {"n": n, "who": who}, key=who)
    seen, done = [], asyncio.Event()
    bob_ran = asyncio.Event()
    concurrent = isinstance(inbox, RedisInbox)  # the embedded inbox (one SQLite writer) goes one by one

    async def handle(item):
        if item.payload["n"] == 0 and concurrent:
            await asyncio.wait_for(bob_ran.wait(), 5)  # Alice's first waits on Bob: only possible side by side
        if item.payload["who"] == "bob":
            bob_ran.set()
        seen.append(item.payload["n"])
        if len(seen) == 4:
            done.set()
    await _run_until(inbox, handle, done)
    assert [n for n in seen if n != 2] == [0, 1, 3]  # Alice's in the order she sent them
    if concurrent:
        assert seen.index(2) < seen.index(0)
    assert await inbox.take("worker-t", block_ms=0) == []  # all acknowledged


async def test_after_a_failure_the_persons_later_items_wait_for_its_retry(client):
    inbox = services_of(client.app).inbox
    for n in range(3):
        await inbox.offer("wecom", f"f{n}", {"n": n}, key="carol")
    seen, done, failed = [], asyncio.Event(), []

    async def handle(item):
        n = item.payload["n"]
        if n == 1 and not failed:
            failed.append(n)
            raise RuntimeError("database restarting")
        seen.append(n)
        if len(seen) == 3:
            done.set()
    await _run_until(inbox, handle, done)
    assert seen == [0, 1, 2]  # 2 never overtook the failed 1


async def test_an_item_that_keeps_failing_is_set_aside_and_the_rest_go_on(client, clock):
    """Retried with back-off for [inbox] retry_for (10 minutes on the clock), then set aside."""
    from sqlalchemy import select

    from store.models import InboxItem
    inbox = services_of(client.app).inbox
    await inbox.offer("wecom", "poison", {"n": "poison"}, key="dave")
    await inbox.offer("wecom", "fine", {"n": "fine"}, key="erin")
    tries, seen, stop = [], [], asyncio.Event()

    async def handle(item):
        if item.payload["n"] == "poison":
            tries.append(clock.now())
            raise ValueError("cannot be processed")
        seen.append(item.payload["n"])

    async def time_passes():  # the clock moves on in 15 s steps until the poison is set aside
        while not (await inbox.set_aside() and seen) and (clock.now() - START).total_seconds() < 900:
            await asyncio.sleep(0.005)
            clock.advance(seconds=15)
        stop.set()
    await asyncio.gather(_run_until(inbox, handle, stop, pause=1.0, clock=clock), time_passes())
    assert seen == ["fine"]
    span = (tries[-1] - tries[0]).total_seconds()
    assert 600 <= span < 700 and 5 < len(tries) < 40  # retried for ten minutes, with growing pauses
    assert await inbox.take("worker-t", block_ms=0) == []  # no longer retried
    # Kept for an operator, who finds it through the API (with what went wrong, where the inbox keeps it).
    resp = await client.get("/api/v1/unprocessed", headers=auth())
    [dead] = (await resp.json())["unprocessed"]
    assert dead["platform"] == "wecom"
    if isinstance(inbox, RedisInbox):
        assert dead["user"] == "dave" and "cannot be processed" in dead["error"]
    else:
        async with services_of(client.app).sessions() as session:
            statuses = dict((await session.execute(select(InboxItem.dedupe_id, InboxItem.status))).all())
        assert statuses == {"poison": "dead", "fine": "done"}
