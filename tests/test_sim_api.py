"""The simulator's JSON API refuses bad input clearly and changes nothing."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("body, status", [
    (b"not json", 400), (b"[]", 400), (b'{"text": "hi"}', 400), (b'{"user": 5}', 400),
    (b'{"user": "u", "image_b64": "!!!not-base64"}', 400), (b'{"user": "u", "text": 12}', 400),
])
async def test_bad_say_requests(client, body, status):
    resp = await client.post("/sim/api/say", data=body, headers={"Content-Type": "application/json"})
    assert resp.status == status
    assert "error" in await resp.json()
    sent = await (await client.get("/sim/api/sent")).json()
    assert sent["sent"] == []


async def test_a_body_over_the_limit_is_refused(client):
    resp = await client.post("/sim/api/say", data=b"x" * (17 * 1024 * 1024),
                             headers={"Content-Type": "application/json"})
    assert resp.status == 413


async def test_sent_lists_every_reply_in_order(client, sim):
    await sim.say("a", "你好")
    await sim.say("b", "A座大堂灯不亮")
    items = (await (await client.get("/sim/api/sent")).json())["sent"]
    assert [i["user"] for i in items] == ["a", "b"]
    only_b = (await (await client.get("/sim/api/sent", params={"user": "b"})).json())["sent"]
    assert len(only_b) == 1 and only_b[0]["user"] == "b" and "姓名" in only_b[0]["text"]
    after = (await (await client.get("/sim/api/sent", params={"after": items[0]["id"]})).json())["sent"]
    assert [i["user"] for i in after] == ["b"]


async def test_the_page_is_served(client):
    resp = await client.get("/sim/")
    assert resp.status == 200 and "模拟器" in await resp.text()
