"""Re-drive: set-aside inbox items and dead outbox rows go through again, by REST call or `repairbot redrive`."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from bot.services import services_of
from bot.runtime import process_item
from dispatch import outbox
from store.models import Outbox
from tests.conftest import auth
from tests.test_outbox import FlakyMessenger

ROOT = Path(__file__).resolve().parents[1]


async def _set_aside_one(app, dedupe_id: str, payload: dict) -> str:
    inbox = services_of(app).inbox
    await inbox.offer("wecom", dedupe_id, payload, key="dave")
    [item] = await inbox.take("w", block_ms=0)
    await inbox.bury(item, "RuntimeError('database away')")
    [listed] = [i for i in await inbox.set_aside() if i["id"] == item.id]
    return listed["id"]


async def _dead_row(app, key: str) -> int:
    async with services_of(app).sessions() as s, s.begin():
        await outbox.enqueue(s, key=key, channel="flaky", kind=outbox.TEXT, user="u1",
                             payload={"text": "您好"}, now=services_of(app).clock.now())
    services_of(app).messengers.register(FlakyMessenger(fail=1, error=_permanent()))
    await services_of(app).outbox_sender.deliver_due()
    async with services_of(app).sessions() as s:
        row = (await s.execute(select(Outbox).where(Outbox.dedupe_key == key))).scalar_one()
    assert row.status == "dead"
    return row.id


def _permanent():
    from relay.messengers import DeliveryError
    return DeliveryError("platform bug fixed later", retryable=False, code="x")


async def test_the_rest_call_sends_set_aside_items_and_dead_rows_through_again(client):
    app = client.app
    handled = []

    async def processor(item):
        handled.append(item.payload)
    services_of(app).processors["wecom"] = processor
    item_id = await _set_aside_one(app, "m1", {"text": "水管爆了"})
    row_id = await _dead_row(app, "card-1")
    # set aside: nobody takes it
    assert await services_of(app).inbox.drain(lambda i: process_item(services_of(app), i)) == 0

    resp = await client.post("/api/v1/redrive", json={"inbox": [item_id], "outbox": [row_id]})
    assert resp.status == 401  # bearer auth like the rest of /api/v1
    resp = await client.post("/api/v1/redrive", json={"inbox": [item_id], "outbox": [row_id]}, headers=auth())
    assert resp.status == 200, await resp.text()
    done = (await resp.json())["redriven"]
    assert done == {"inbox": [item_id], "outbox": [row_id]}
    assert (await (await client.get("/api/v1/unprocessed", headers=auth())).json())["unprocessed"] == []
    assert (await (await client.get("/api/v1/undelivered", headers=auth())).json())["undelivered"] == []

    m = FlakyMessenger()
    services_of(app).messengers.register(m)
    assert await services_of(app).inbox.drain(lambda i: process_item(services_of(app), i)) == 1
    assert handled == [{"text": "水管爆了"}]
    assert await services_of(app).outbox_sender.deliver_due() == 1 and m.sent == [("u1", "您好")]
    # Again: nothing is set aside any more, so nothing is sent twice.
    resp = await client.post("/api/v1/redrive", headers=auth())
    assert (await resp.json())["redriven"] == {"inbox": [], "outbox": []}
    assert await services_of(app).inbox.drain(lambda i: process_item(services_of(app), i)) == 0
    assert await services_of(app).outbox_sender.deliver_due() == 0 and len(m.sent) == 1


async def test_the_rest_call_refuses_a_malformed_body_and_changes_nothing(client):
    item_id = await _set_aside_one(client.app, "m2", {"text": "x"})
    for body in ({"inbox": "all"}, {"outbox": ["1"]}, [1, 2]):
        resp = await client.post("/api/v1/redrive", json=body, headers=auth())
        assert resp.status == 400
    assert [i["id"] for i in await services_of(client.app).inbox.set_aside()] == [item_id]


async def test_the_command_redrives_everything_set_aside(client, backend, tmp_path):
    app = client.app
    await _set_aside_one(app, "m3", {"text": "灯不亮"})
    await _dead_row(app, "card-3")
    config = tmp_path / "repairbot.toml"
    config.write_text(f'[service]\napi_tokens = ["{"t" * 40}"]\n[database]\nurl = "{backend.db_url}"\n'
                      f'[redis]\nurl = "{backend.redis_url}"\nprefix = "{backend.prefix}"\n'
                      f'[media]\ndir = "{tmp_path / "media"}"\n', encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("REPAIRBOT_CONFIG", None)
    out = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "bot", "redrive", "--config", str(config)],
                                  env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "re-driven: 1 inbox items, 1 outbox rows" in out.stdout
    assert await services_of(app).inbox.set_aside() == []
    async with services_of(app).sessions() as s:
        assert [r.status for r in (await s.execute(select(Outbox))).scalars()] == ["pending"]
