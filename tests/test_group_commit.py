"""Group commit: concurrent callers share one write; one bad item fails only its own caller."""
from __future__ import annotations

import asyncio

import pytest

from relay.group_commit import GroupCommit


async def test_callers_arriving_together_share_one_write_and_get_their_own_results():
    writes = []

    async def write(items):
        writes.append(list(items))
        return [i * 10 for i in items]
    gc = GroupCommit(write)
    results = await asyncio.gather(gc.add([1, 2]), gc.add([3]), gc.add([4, 5]))
    assert results == [[10, 20], [30], [40, 50]]
    assert writes == [[1, 2, 3, 4, 5]]


async def test_one_bad_item_fails_only_its_caller():
    async def write(items):
        if "bad" in items:
            raise ValueError("refused")
        return [f"ok:{i}" for i in items]
    gc = GroupCommit(write)
    good, bad, other = await asyncio.gather(gc.add(["a"]), gc.add(["bad"]), gc.add(["b"]),
                                            return_exceptions=True)
    assert good == ["ok:a"] and other == ["ok:b"]
    assert isinstance(bad, ValueError)


async def test_a_lone_callers_error_reaches_it_and_the_next_round_still_runs():
    calls = []

    async def write(items):
        calls.append(items)
        if len(calls) == 1:
            raise ConnectionError("database restarting")
        return items
    gc = GroupCommit(write)
    with pytest.raises(ConnectionError):
        await gc.add(["x"])
    assert await gc.add(["y"]) == ["y"]
