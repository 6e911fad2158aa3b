"""The demo a new user sees: the simulator speaks WeCom on the wire, end to end through dispatch."""
from __future__ import annotations

from aiohttp.test_utils import unused_port

from bot.app import create_app
from bot.runtime import run_pending
from bot.services import services_of


async def _sent(client, user):
    return (await (await client.get("/sim/wecom/_sent", params={"user": user})).json())["sent"]


def _texts(items):
    return [i["payload"].get("text", {}).get("content", "") for i in items if i["kind"] == "message"]


async def test_report_dispatch_and_accept_over_wecom(aiohttp_client, make_settings, clock, backend):
    port = unused_port()
    settings = make_settings(service={"public_url": f"http://127.0.0.1:{port}"})
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix, demo_wecom=True)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    page = await (await client.get("/sim/")).text()
    assert "企业微信" in page

    async def say(text):
        resp = await client.post("/sim/api/wecom/say", json={"user": "r1", "text": text})
        assert (await resp.json())["callback_status"] == 200
        await run_pending(services_of(app))

    await say("3栋2单元1502卫生间水管爆了 王女士 13812345678")
    assert any("请核对" in t for t in _texts(await _sent(client, "r1")))
    await say("确认")
    assert any("BX20261129-0001" in t for t in _texts(await _sent(client, "r1")))

    cards = {u: [i for i in await _sent(client, u) if i.get("payload", {}).get("msgtype") == "template_card"]
             for u in ("zhangsan", "zhaoliu", "lisi")}
    assert len(cards["zhangsan"]) == 1 and len(cards["zhaoliu"]) == 1 and cards["lisi"] == []
    card = cards["zhangsan"][0]["payload"]["template_card"]
    assert [b["text"] for b in card["button_list"]] == ["接单", "转派", "无法处理"]
    accept = card["button_list"][0]["key"]

    resp = await client.post("/sim/api/wecom/click",
                             json={"user": "zhangsan", "task_id": card["task_id"], "key": accept})
    assert (await resp.json())["callback_status"] == 200
    await run_pending(services_of(app))
    assert any("接单成功" in t for t in _texts(await _sent(client, "zhangsan")))
    assert any("张师傅 接单" in t for t in _texts(await _sent(client, "r1")))
    updates = [i for i in await _sent(client, "zhaoliu") if i["kind"] == "card_update"]
    assert updates and "已被 张师傅 接单" in updates[-1]["payload"]["button"]["replace_name"]

    other = cards["zhaoliu"][0]["payload"]["template_card"]
    await client.post("/sim/api/wecom/click", json={"user": "zhaoliu", "task_id": other["task_id"], "key": accept})
    await run_pending(services_of(app))
    assert any("已被 张师傅 接单" in t for t in _texts(await _sent(client, "zhaoliu")))
