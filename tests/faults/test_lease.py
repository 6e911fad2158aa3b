"""A send that outlives its lease is sent once: while the WeCom API holds a card's send past several
leases, other rounds of the outbox (another process's, by the clock) neither take nor double it."""
from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.services import services_of
from relay.outbox_sender import LEASE
from dispatch import outbox
from store.models import Outbox
from tests.faults.harness import until


async def test_a_send_that_outlives_its_lease_is_sent_once(world, clock):
    app = world.app
    async with services_of(app).sessions() as s, s.begin():
        for n in range(3):  # three messages to one technician: the first hangs at the platform
            await outbox.enqueue(s, key=f"notice-{n}", channel="wecom", kind=outbox.TEXT, user="zhangsan",
                                 payload={"text": f"通知 {n}"}, now=clock.now())
    world.fake.hold = asyncio.Event()
    first = asyncio.create_task(services_of(app).outbox_sender.deliver_due())
    await until(lambda: clock.sleepers() == 1)  # the send is in flight, its lease renewal waiting
    for _ in range(8):  # four leases pass on the clock while WeCom holds the request
        clock.advance(seconds=LEASE.total_seconds() / 2)
        await until(lambda: clock.sleepers() == 1)  # renewed, and waiting for the next renewal
        assert await services_of(app).outbox_sender.deliver_due() == 0  # another round finds nothing it may take
    world.fake.hold.set()
    assert await first == 3
    assert world.texts_to("zhangsan") == ["通知 0", "通知 1", "通知 2"]
    async with services_of(app).sessions() as s:
        rows = list((await s.execute(select(Outbox).order_by(Outbox.id))).scalars())
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1)] * 3
