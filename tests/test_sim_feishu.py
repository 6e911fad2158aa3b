"""The simulator speaks Feishu too, and one ticket's cards on WeCom and Feishu show the same truth."""
from __future__ import annotations

from aiohttp.test_utils import unused_port

from bot.app import create_app
from bot.runtime import run_pending
from bot.services import services_of


async def test_report_on_feishu_accept_from_the_feishu_group_and_wecom_copies_follow(
        aiohttp_client, make_settings, clock, backend):
    port = unused_port()
    settings = make_settings(service={"public_url": f"http://127.0.0.1:{port}"})
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix,
                     demo_wecom=True, demo_feishu=True)
    client = await aiohttp_client(app, server_kwargs={"port": port})

    async def say(text):
        resp = await client.post("/sim/api/feishu/say", json={"user": "r1", "text": text})
        assert (await resp.json())["callback_status"] == 200
        await run_pending(services_of(app))

    async def feishu_sent(receive_id):
        resp = await client.get("/sim/feishu/_sent", params={"receive_id": receive_id})
        return (await resp.json())["sent"]

    await say("3栋2单元1502卫生间水管爆了 王女士 13812345678")
    await say("确认")
    texts = [m["content"].get("text", "") for m in await feishu_sent("ou_r1") if m["msg_type"] == "text"]
    assert any("BX20261129-0001" in t for t in texts)

    [card] = [m for m in await feishu_sent("oc_plumbing_group") if m["msg_type"] == "interactive"]
    shown = str(card["content"])
    assert "13812345678" not in shown and "138" in shown and "5678" in shown  # masked in the group
    buttons = [e for col in card["content"]["body"]["elements"] if col.get("tag") == "column_set"
               for c in col["columns"] for e in c["elements"]]
    assert [b["text"]["content"] for b in buttons] == ["接单", "转派", "无法处理"]
    wecom = (await (await client.get("/sim/wecom/_sent", params={"user": "zhaoliu"})).json())["sent"]
    assert any(i.get("payload", {}).get("msgtype") == "template_card" for i in wecom)  # the same job on WeCom

    resp = await client.post("/sim/api/feishu/click", json={
        "user": "zhangsan", "message_id": card["message_id"], "chat_id": "oc_plumbing_group",
        "value": buttons[0]["behaviors"][0]["value"]})
    answer = (await resp.json())["answer"]
    assert answer["toast"]["type"] == "success" and "接单成功" in answer["toast"]["content"]
    assert "已被 张师傅 接单" in str(answer["card"]["data"])
    await run_pending(services_of(app))
    wecom = (await (await client.get("/sim/wecom/_sent", params={"user": "zhaoliu"})).json())["sent"]
    updates = [i for i in wecom if i["kind"] == "card_update"]
    assert updates and "已被 张师傅 接单" in updates[-1]["payload"]["button"]["replace_name"]
    texts = [m["content"].get("text", "") for m in await feishu_sent("ou_r1") if m["msg_type"] == "text"]
    assert any("张师傅 接单" in t for t in texts)
