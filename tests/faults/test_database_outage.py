"""PostgreSQL unavailable for 30 s while residents write: nothing is set aside and every message is
processed afterwards, in order per person. The service reaches PostgreSQL through a loopback TCP proxy
that the test cuts (connections reset, new ones refused) and restores; the inbox's back-off runs on the
injected clock, so 30 s pass without waiting them, while the connection errors are real."""
from __future__ import annotations

import pytest

from bot.services import services_of
from tests.faults.harness import TcpProxy, cleanup, until, wecom_world

RESIDENTS = [f"r{n}" for n in range(1, 6)]


@pytest.fixture
async def proxy():
    p = TcpProxy(5432)
    await p.start()
    yield p
    await p.close()


async def test_thirty_seconds_without_postgresql_set_nothing_aside(aiohttp_client, clock, pg_database, redis_url,
                                                                   tmp_path, proxy):
    prefix = f"rbfault:{tmp_path.name[-12:]}"
    via_proxy = pg_database.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/")
    assert via_proxy != pg_database
    world = await wecom_world(aiohttp_client, clock, db_url=via_proxy, redis_url=redis_url, prefix=prefix,
                              tmp_path=tmp_path, run_background=True)
    try:
        app = world.app
        await proxy.cut()
        cut_at = clock.now()
        for n, user in enumerate(RESIDENTS, start=1):  # the webhook answers: the inbox is Redis
            await world.say(user, f"{n}栋2单元1502卫生间水管爆了")
            await world.say(user, f"王女士 1381234567{n}")
        # Every resident's first message fails on the database and waits on the clock (its lane holds
        # the second one back).
        await until(lambda: clock.sleepers() >= len(RESIDENTS))
        while (clock.now() - cut_at).total_seconds() < 30:
            clock.advance(seconds=5)  # each step wakes the lanes: they retry, fail again, wait again
            await until(lambda: clock.sleepers() >= len(RESIDENTS))
        assert world.fake.sent == []
        await proxy.restore()
        await until(lambda: all(len(world.texts_to(u)) == 2 for u in RESIDENTS), seconds=60,
                    step=lambda: clock.advance(seconds=5))
        assert await services_of(app).inbox.set_aside() == []
        for user in RESIDENTS:
            first, second = world.texts_to(user)
            assert "联系" in first and "请核对" in second  # each processed once, in the order written
    finally:
        await cleanup(pg_database, redis_url, prefix)
