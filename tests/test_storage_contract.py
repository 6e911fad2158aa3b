"""One contract for every conversation-state backend (memory, Redis), after aiogram's storage tests."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from conversations.storage import StorageKey, make_storage


@pytest.fixture
async def storage(backend, clock):
    s = make_storage(backend.redis_url, clock=clock, prefix=backend.prefix)
    yield s
    await s.close()


KEY = StorageKey("sim", "group-1", "alice")


async def test_missing_key_reads_none(storage):
    assert await storage.get(KEY) is None


async def test_value_round_trips_as_json(storage):
    value = {"state": "Intake:contact", "location": "3栋2单元1502", "photo_ids": [1, 2]}
    await storage.set(KEY, value, ttl=60)
    assert await storage.get(KEY) == value
    await storage.delete(KEY)
    assert await storage.get(KEY) is None


async def test_two_residents_in_one_group_never_cross(storage):
    bob = StorageKey("sim", "group-1", "bob")
    await storage.set(KEY, {"location": "A座大堂"}, ttl=60)
    await storage.set(bob, {"location": "9栋楼顶"}, ttl=60)
    assert (await storage.get(KEY))["location"] == "A座大堂"
    assert (await storage.get(bob))["location"] == "9栋楼顶"


async def test_keys_with_separators_stay_distinct(storage):
    a = StorageKey("sim", "a:b", "c")
    b = StorageKey("sim", "a", "b:c")
    await storage.set(a, {"v": 1}, ttl=60)
    assert await storage.get(b) is None


async def test_lock_serialises_read_modify_write(storage):
    """With the lock taken before the read, 20 concurrent increments lose none."""
    await storage.set(KEY, {"n": 0}, ttl=60)

    async def bump():
        async with storage.lock(KEY):
            v = await storage.get(KEY)
            await asyncio.sleep(0)  # yield inside the critical section: a race would show here
            await storage.set(KEY, {"n": v["n"] + 1}, ttl=60)

    await asyncio.gather(*(bump() for _ in range(20)))
    assert (await storage.get(KEY))["n"] == 20


async def test_lock_is_released_after_an_error(storage):
    with pytest.raises(RuntimeError):
        async with storage.lock(KEY):
            raise RuntimeError("step failed")
    async with storage.lock(KEY):
        pass


async def test_deadlines_come_due_in_order(storage, clock):
    other = StorageKey("sim", "c2", "bob")
    await storage.schedule(KEY, clock.now() + timedelta(minutes=30))
    await storage.schedule(other, clock.now() + timedelta(minutes=10))
    assert await storage.due(clock.now()) == []
    assert await storage.due(clock.now() + timedelta(minutes=15)) == [other]
    assert await storage.due(clock.now() + timedelta(minutes=31)) == [other, KEY]
    await storage.unschedule(other)
    assert await storage.due(clock.now() + timedelta(minutes=31)) == [KEY]


async def test_value_carries_a_ttl(storage, backend, clock):
    await storage.set(KEY, {"v": 1}, ttl=100)
    if backend.redis_url:
        ttl = await storage.redis.ttl(storage._key(KEY))
        assert 0 < ttl <= 100
    else:
        clock.advance(101)
        assert await storage.get(KEY) is None
