"""The WeCom API down for five minutes (HTTP 500, or errcode 45009 rate limiting): every reply and every
card is delivered exactly once afterwards, in order per chat. PostgreSQL + Redis, the real WeCom client
against the fake WeCom API on a real socket."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.services import services_of
from bot.runtime import run_pending
from store.models import Outbox
from tests.faults.harness import outbox_statuses

FLOWS = {
    "r1": ["3栋2单元1502卫生间水管爆了", "王女士 13812345678", "确认"],
    "r2": ["5栋1单元301厨房水管漏水", "李先生 13912345678", "确认"],
}


async def _rows(app):
    async with services_of(app).sessions() as s:
        return list((await s.execute(select(Outbox).order_by(Outbox.id))).scalars())


@pytest.mark.parametrize("errcode", [0, 45009], ids=["http500", "errcode45009"])
async def test_five_minutes_of_wecom_errors_lose_and_double_nothing(world, clock, errcode):
    app = world.app
    world.fake.outage(300, errcode=errcode)
    for step in range(3):  # both residents report while WeCom is down
        for user, texts in FLOWS.items():
            await world.say(user, texts[step])
        await run_pending(services_of(app))
        clock.advance(seconds=30)
    assert world.fake.sent == []
    assert outbox_statuses(await _rows(app)).get("sent", 0) == 0
    # The outbox keeps trying through the outage and after it; the clock moves on in 20 s steps.
    for _ in range(200):
        while await services_of(app).outbox_sender.deliver_due():
            pass
        statuses = outbox_statuses(await _rows(app))
        if set(statuses) == {"sent"}:
            break
        clock.advance(seconds=20)
    assert set(outbox_statuses(await _rows(app))) == {"sent"}  # nothing dead, nothing left behind

    for user, texts in FLOWS.items():
        got = world.replies_to(user)
        assert len(got) == len(set(got)) == 3, got  # each reply once
        assert "联系" in got[0] and "请核对" in got[1] and "BX20261129-" in got[2]  # in the order asked
    for tech in ("zhangsan", "zhaoliu"):
        cards = world.cards_to(tech)
        numbers = [n for c in cards for n in ("BX20261129-0001", "BX20261129-0002") if n in json.dumps(c, ensure_ascii=False)]
        assert numbers == ["BX20261129-0001", "BX20261129-0002"], numbers  # each card once, in filing order
    assert (clock.now() - world.fake.outage_until).total_seconds() < 600  # delivered within minutes of healing
