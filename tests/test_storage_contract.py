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


# ---- hold: lock, read, and at the end write and unlock (a conversation step) ----------------------

async def test_hold_reads_the_value_under_the_lock(storage):
    async with storage.hold(KEY) as held:
        assert held.value is None
    await storage.set(KEY, {"state": "Intake:contact"}, ttl=60)
    async with storage.hold(KEY) as held:
        assert held.value == {"state": "Intake:contact"}


async def test_hold_writes_value_and_deadline_at_exit(storage, clock):
    due = clock.now() + timedelta(minutes=30)
    async with storage.hold(KEY) as held:
        held.put({"n": 1}, ttl=60)
        held.schedule(due)
        assert await storage.get(KEY) is None  # nothing is written before the hold ends
    assert await storage.get(KEY) == {"n": 1}
    assert await storage.due(due) == [KEY]


async def test_hold_deletes_value_and_deadline(storage, clock):
    await storage.set(KEY, {"n": 1}, ttl=60)
    await storage.schedule(KEY, clock.now())
    async with storage.hold(KEY) as held:
        held.delete()
        held.unschedule()
    assert await storage.get(KEY) is None
    assert await storage.due(clock.now()) == []


async def test_hold_without_changes_keeps_value_and_deadline(storage, clock):
    await storage.set(KEY, {"n": 1}, ttl=60)
    await storage.schedule(KEY, clock.now())
    async with storage.hold(KEY):
        pass
    assert await storage.get(KEY) == {"n": 1}
    assert await storage.due(clock.now()) == [KEY]


async def test_hold_changes_value_and_deadline_independently(storage, clock):
    await storage.set(KEY, {"n": 1}, ttl=60)
    async with storage.hold(KEY) as held:
        held.schedule(clock.now())            # a deadline only: the value stays
    assert await storage.get(KEY) == {"n": 1}
    async with storage.hold(KEY) as held:
        held.put({"n": 2}, ttl=60)
        held.unschedule()                     # the value changes, the deadline goes
    assert await storage.get(KEY) == {"n": 2}
    assert await storage.due(clock.now()) == []


async def test_hold_value_carries_its_ttl(storage, backend, clock):
    async with storage.hold(KEY) as held:
        held.put({"v": 1}, ttl=100)
    if backend.redis_url:
        assert 0 < await storage.redis.ttl(storage._key(KEY)) <= 100
    else:
        clock.advance(101)
        assert await storage.get(KEY) is None


async def test_failed_step_writes_nothing_and_releases(storage, clock):
    await storage.set(KEY, {"n": 1}, ttl=60)
    with pytest.raises(RuntimeError):
        async with storage.hold(KEY) as held:
            held.put({"n": 2}, ttl=60)
            held.schedule(clock.now())
            raise RuntimeError("step failed")
    async with storage.hold(KEY) as held:
        assert held.value == {"n": 1}
    assert await storage.due(clock.now()) == []


async def test_hold_serialises_read_modify_write(storage):
    """The value a hold yields is read after the lock is taken, so 20 concurrent increments lose none."""
    await storage.set(KEY, {"n": 0}, ttl=60)

    async def bump():
        async with storage.hold(KEY) as held:
            await asyncio.sleep(0)  # yield inside the critical section: a race would show here
            held.put({"n": held.value["n"] + 1}, ttl=60)

    await asyncio.gather(*(bump() for _ in range(20)))
    assert (await storage.get(KEY))["n"] == 20


# ---- Redis only: several processes share the lock ------------------------------------------------

@pytest.fixture
async def other_process(backend, clock):
    """A second storage on the same Redis and prefix: what another process of the service sees."""
    if not backend.redis_url:
        pytest.skip("one process only: the memory backend has no other processes")
    s = make_storage(backend.redis_url, clock=clock, prefix=backend.prefix)
    yield s
    await s.close()


async def test_another_process_waits_for_the_lock_and_reads_the_write(storage, other_process):
    inside, done = asyncio.Event(), asyncio.Event()

    async def first():
        async with storage.hold(KEY) as held:
            inside.set()
            await done.wait()
            held.put({"by": "first"}, ttl=60)

    async def second():
        await inside.wait()
        async with other_process.hold(KEY) as held:
            return held.value

    task = asyncio.create_task(second())
    holder = asyncio.create_task(first())
    await inside.wait()
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()  # still polling: the first process holds the lock
    done.set()
    await holder
    assert await task == {"by": "first"}


async def test_lock_expires_for_a_crashed_holder(storage, other_process):
    async with storage.hold(KEY):
        ttl = await storage.redis.pttl(storage._key(KEY) + ":lock")
        assert 0 < ttl <= storage.LOCK_TIMEOUT * 1000


async def test_holder_whose_lock_expired_overwrites_nothing(storage, other_process):
    """Past the lock timeout another process may hold the conversation: the late write is refused."""
    from conversations.storage.base import LockLost

    await storage.set(KEY, {"n": 1}, ttl=60)
    with pytest.raises(LockLost):
        async with storage.hold(KEY) as held:
            # As if the lock expired and the other process took it meanwhile.
            await storage.redis.set(storage._key(KEY) + ":lock", "another-token")
            held.put({"n": 2}, ttl=60)
    assert await storage.get(KEY) == {"n": 1}
    assert await storage.redis.get(storage._key(KEY) + ":lock") == b"another-token"  # theirs, not released
