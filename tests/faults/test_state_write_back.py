"""The conversation state cannot be written back after the 「确认」 filed its ticket → one ticket, one set of
cards, and the redelivered message answers with the ticket already filed (issue 8, item 3).

Real failures only: PostgreSQL holds the filing at a lock the test owns, so the test knows the step is
inside its transaction; the test's own Redis is then made to refuse writes (`min-replicas-to-write`
with no replica), so the state write-back after the commit fails as Redis itself fails it.
"""
from __future__ import annotations

import asyncio

import asyncpg
import pytest
from aiohttp.test_utils import unused_port
from redis.exceptions import ResponseError
from sqlalchemy import func, select

from bot.services import services_of
from bot.app import create_app
from bot.runtime import run_pending
from store.models import Outbox, Ticket
from tests.faults.conftest import until, waiting_on_table

REPORT = "3栋2单元1502卫生间水管爆了 王女士 13812345678"


async def _sent(client, user):
    return (await (await client.get("/sim/wecom/_sent", params={"user": user})).json())["sent"]


@pytest.mark.parametrize("backend", ["pg"], indirect=True)
async def test_state_lost_after_filing_gives_one_ticket_and_one_set_of_cards(
        aiohttp_client, make_settings, clock, backend, own_redis):
    redis_url, redis_admin = own_redis
    port = unused_port()
    settings = make_settings(service={"public_url": f"http://127.0.0.1:{port}"}, redis={"url": redis_url})
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix, demo_wecom=True)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    # A conversation lock left by the failed step expires after this (30 s in production).
    services_of(app).storage.LOCK_TIMEOUT = 3.0

    async def say(text):
        resp = await client.post("/sim/api/wecom/say", json={"user": "r1", "text": text})
        assert (await resp.json())["callback_status"] == 200

    await say(REPORT)
    await run_pending(services_of(app))
    await say("确认")  # accepted into the inbox; not processed yet
    pg = await asyncpg.connect(backend.db_url.replace("+asyncpg", ""))
    try:
        hold = pg.transaction()
        await hold.start()
        await pg.execute("LOCK TABLE ticket_counters IN EXCLUSIVE MODE")  # the filing waits here
        step = asyncio.create_task(run_pending(services_of(app)))
        await until(lambda: waiting_on_table(pg, "ticket_counters"))
        redis_admin.config_set("min-replicas-to-write", 1)  # from now on Redis refuses every write
        await hold.commit()
        with pytest.raises(ResponseError, match="NOREPLICAS"):
            await step
    finally:
        redis_admin.config_set("min-replicas-to-write", 0)
        await pg.close()

    async def tickets() -> list[str]:
        async with services_of(app).sessions() as s:
            return list((await s.execute(select(Ticket.number))).scalars())
    assert await tickets() == ["BX20261129-0001"]  # committed before the write-back failed
    assert not any("BX" in i["payload"].get("text", {}).get("content", "") for i in await _sent(client, "r1"))

    await run_pending(services_of(app))  # Redis works again: the inbox hands the unacknowledged 「确认」 over once more
    assert await tickets() == ["BX20261129-0001"]
    told = [i["payload"]["text"]["content"] for i in await _sent(client, "r1") if i["payload"].get("msgtype") == "text"]
    assert [t for t in told if "已提交" in t and "BX20261129-0001" in t] and sum("BX" in t for t in told) == 1
    for tech in ("zhangsan", "zhaoliu"):  # the demo's plumbers: one card each
        cards = [i for i in await _sent(client, tech) if i["payload"].get("msgtype") == "template_card"]
        assert len(cards) == 1, tech
    async with services_of(app).sessions() as s:
        rows = (await s.execute(select(func.count()).select_from(Outbox).where(Outbox.kind == "card"))).scalar_one()
    assert rows == 2
    # The conversation is finished: the resident's next 「确认」 files nothing.
    await say("确认")
    await run_pending(services_of(app))
    assert await tickets() == ["BX20261129-0001"]
