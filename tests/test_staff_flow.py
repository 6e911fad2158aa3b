"""报价, 暂停, 改约 and 完工 pressed on a card ask for their input in the technician's 1:1 chat, then act once
confirmed (conversations/staff_flow.py): through the simulator, WeCom's wire format and Feishu's."""
from __future__ import annotations

import base64

from aiohttp.test_utils import unused_port
from sqlalchemy import select

from bot.app import create_app
from bot.runtime import run_pending
from bot.services import services_of
from conversations.staff_flow import parse_minutes
from dispatch.payloads import CardAction
from store.models import Photo
from tests.conftest import Sim
from tests.test_job_card import accepted, labels, last_card, press, report

PNG = base64.b64encode(
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x8d\xa3\x9d\x00\x00\x00\x00IEND\xaeB`\x82"
).decode()


async def said(sim, user: str, text: str | None = None, **kw) -> str:
    """Everything the bot answered one message, as one text."""
    return "\n".join(await sim.say(user, text, **kw))


async def on_site(client, sim) -> str:
    number = await accepted(client, sim)
    assert (await press(client, "zhangsan", CardAction("arrive", number).encode()))["outcome"] == "ok"
    return number


async def test_the_quote_flow_from_the_card_to_a_quoted_ticket(client, sim):
    number = await on_site(client, sim)
    card = await last_card(client, "zhangsan")
    r = await press(client, "zhangsan", dict(zip(labels(card), (p for _, p in card["card"]["buttons"])))["报价"])
    assert r["outcome"] == "asked"
    question = r["replies"][0]["text"]
    # The plumbing lines of the demo price list and the shared one, numbered (BR-13).
    for line in ("1. 更换水龙头（人工） 50元", "2. 疏通下水道 80元", "3. 更换角阀（人工） 30元", "4. 上门检测费 20元"):
        assert line in question
    assert "更换插座" not in question  # an electrical line
    assert (await sim.ticket(number))["status"] == "on_site"  # nothing happens before 确认

    reply = await said(sim, "zhangsan", "9")
    assert "没看懂「9」" in reply
    reply = await said(sim, "zhangsan", "2 4\n更换进水软管 25元")
    assert "备注" in reply
    reply = await said(sim, "zhangsan", "软管是业主自购的同款")
    assert "疏通下水道 80元" in reply and "更换进水软管 25元" in reply and "合计 125元" in reply
    reply = await said(sim, "zhangsan", "确认")
    assert "报价已发给业主" in reply and "合计 125元" in reply
    t = await sim.ticket(number)
    assert t["status"] == "quoted"
    assert t["quote"]["total"] == "125.00" and t["quote"]["status"] == "pending"
    assert [i["name"] for i in t["quote"]["items"]] == ["疏通下水道", "上门检测费", "更换进水软管"]
    assert t["quote"]["note"] == "软管是业主自购的同款"
    card = await last_card(client, "zhangsan")
    assert labels(card) == [] and "合计 125元（待业主确认）" in card["text"]
    # The flow is over: the next message is no longer read as a quote.
    assert not any("合计" in r for r in await sim.say("zhangsan", "确认"))


async def test_the_completion_flow_with_materials_and_an_after_photo(client, sim):
    number = await on_site(client, sim)
    r = await press(client, "zhangsan", CardAction("complete", number).encode())
    assert r["outcome"] == "asked"
    question = r["replies"][0]["text"]
    assert "1. 水龙头（个）" in question and "2. 生料带（卷）" in question
    reply = await said(sim, "zhangsan", "1 1\n2 2\n密封圈 3个")
    assert "用了多长时间" in reply
    reply = await said(sim, "zhangsan", "一个半小时")
    assert "备注" in reply
    reply = await said(sim, "zhangsan", "更换了阀芯，已试水")
    assert "完工后的照片" in reply
    reply = await said(sim, "zhangsan", image_b64=PNG)
    assert "收到第 1 张完工照片" in reply
    reply = await said(sim, "zhangsan", "好了")
    for shown in ("水龙头×1", "生料带×2", "密封圈×3", "用时：90 分钟", "完工照片：1 张"):
        assert shown in reply, shown
    reply = await said(sim, "zhangsan", "确认")
    assert "已完工" in reply and "业主确认" in reply
    t = await sim.ticket(number)
    assert t["status"] == "completed"
    assert t["materials"] == [{"name": "水龙头", "qty": 1}, {"name": "生料带", "qty": 2}, {"name": "密封圈", "qty": 3}]
    assert t["minutes"] == 90 and t["completion_note"] == "更换了阀芯，已试水"
    assert len(t["after_photos"]) == 1 and t["photos"] == []
    async with services_of(client.app).sessions() as s:
        [photo] = (await s.execute(select(Photo))).scalars().all()
    assert photo.kind == "after" and photo.uploader == "zhangsan"
    card = await last_card(client, "zhangsan")
    assert labels(card) == [] and "等待验收" in card["card"]["status"] and "材料：水龙头×1、生料带×2、密封圈×3" in card["text"]


async def test_a_photo_sent_early_counts_and_the_question_is_asked_again(client, sim):
    number = await on_site(client, sim)
    await press(client, "zhangsan", CardAction("complete", number).encode())
    reply = await said(sim, "zhangsan", image_b64=PNG)
    assert "收到第 1 张完工照片" in reply and "用了哪些材料" in reply
    for text in ("跳过", "45", "跳过", "跳过", "确认"):
        reply = await said(sim, "zhangsan", text)
    t = await sim.ticket(number)
    assert t["status"] == "completed" and len(t["after_photos"]) == 1 and t["minutes"] == 45 and t["materials"] == []


async def test_a_voice_note_in_a_flow_is_answered_and_the_question_asked_again(client, sim):
    """Issue 12: a voice note is never met with silence, in a technician's flow as in a report; it answers nothing."""
    from tests.test_voice_notes import AMR

    number = await on_site(client, sim)
    await press(client, "zhangsan", CardAction("hold", number).encode())
    reply = await said(sim, "zhangsan", voice_b64=base64.b64encode(AMR).decode())
    assert "听不了语音" in reply and "打字" in reply and "暂停的原因" in reply
    reply = await said(sim, "zhangsan", "等配件")
    assert "恢复" in reply     # the flow went on from where it was


async def test_cancel_leaves_the_flow_and_changes_nothing(client, sim):
    number = await on_site(client, sim)
    before = await sim.ticket(number)
    r = await press(client, "zhangsan", CardAction("hold", number).encode())
    assert "暂停的原因" in r["replies"][0]["text"]
    reply = await said(sim, "zhangsan", "等配件")
    assert "恢复" in reply
    reply = await said(sim, "zhangsan", "取消")
    assert "已放弃「暂停」" in reply and number in reply
    assert await sim.ticket(number) == before
    assert not any("恢复" in r for r in await sim.say("zhangsan", "明天"))


async def test_the_hold_flow(client, sim):
    number = await on_site(client, sim)
    await press(client, "zhangsan", CardAction("hold", number).encode())
    await sim.say("zhangsan", "等厂家寄配件")
    reply = await said(sim, "zhangsan", "今天上午9点")
    assert "已经过去了" in reply
    reply = await said(sim, "zhangsan", "明天下午3点")
    assert "暂停原因：等厂家寄配件" in reply and "预计恢复：明天下午3点" in reply
    reply = await said(sim, "zhangsan", "重填")
    assert "暂停的原因" in reply
    await sim.say("zhangsan", "等厂家寄配件")
    await sim.say("zhangsan", "明天下午3点")
    reply = await said(sim, "zhangsan", "确认")
    assert "已暂停" in reply
    t = await sim.ticket(number)
    assert t["status"] == "on_hold"
    card = await last_card(client, "zhangsan")
    assert labels(card) == ["恢复", "转派"] and "暂停：等厂家寄配件，预计 11-30 15:00 恢复" in card["text"]


async def test_the_reschedule_flow_proposes_a_time_to_the_resident(client, sim):
    number = await accepted(client, sim)
    r = await press(client, "zhangsan", CardAction("reschedule", number).encode())
    assert "新的上门时间" in r["replies"][0]["text"]
    reply = await said(sim, "zhangsan", "随便吧")
    assert "没看懂" in reply
    reply = await said(sim, "zhangsan", "明天上午10点")
    assert "11-30 10:00" in reply
    reply = await said(sim, "zhangsan", "确认")
    assert "明天上午10点" in reply and "业主同意后生效" in reply
    card = await last_card(client, "zhangsan")
    assert "改约待确认：明天上午10点" in card["text"] and labels(card) == ["已到达", "改约", "转派"]
    assert (await sim.ticket(number))["status"] == "accepted"


async def test_an_unanswered_flow_lapses_with_the_draft_ttl(client, sim, clock):
    number = await on_site(client, sim)
    await press(client, "zhangsan", CardAction("quote", number).encode())
    clock.advance(seconds=31 * 60)
    reply = await said(sim, "zhangsan", "1")
    assert "已自动放弃" in reply and number in reply
    assert (await sim.ticket(number))["status"] == "on_site"


async def test_a_new_press_replaces_an_unfinished_flow(client, sim):
    number = await on_site(client, sim)
    await press(client, "zhangsan", CardAction("quote", number).encode())
    r = await press(client, "zhangsan", CardAction("hold", number).encode())
    assert "之前未完成的「报价」已放弃" in r["replies"][0]["text"]


async def test_a_staff_draft_of_a_report_survives_a_flow(client, sim):
    """A technician reporting a fault of their own, then pressing 完工 on a job, keeps both."""
    number = await on_site(client, sim)
    await sim.say("zhangsan", "5栋1单元201厨房灯不亮")
    await press(client, "zhangsan", CardAction("hold", number).encode())
    await sim.say("zhangsan", "取消")
    reply = await said(sim, "zhangsan", "刘先生 13912345678")
    assert "请核对" in reply and "5栋1单元201" in reply


def test_durations_are_read_as_people_write_them():
    assert [parse_minutes(t) for t in ("45", "45分钟", "1.5小时", "1小时20分", "半小时", "两个半小时", "2h", "90 min")] == \
        [45, 45, 90, 80, 30, 150, 120, 90]
    assert parse_minutes("很久") is None and parse_minutes("0") is None


# ---- on the platforms' wire formats ---------------------------------------------------------------------

async def _wecom_sent(client, user):
    return (await (await client.get("/sim/wecom/_sent", params={"user": user})).json())["sent"]


def _wecom_texts(items):
    return [i["payload"].get("text", {}).get("content", "") for i in items if i["kind"] == "message"]


async def test_the_job_over_wecom_template_card_events(aiohttp_client, make_settings, clock, backend):
    port = unused_port()
    settings = make_settings(service={"public_url": f"http://127.0.0.1:{port}"})
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix, demo_wecom=True)
    client = await aiohttp_client(app, server_kwargs={"port": port})

    async def say(user, text=None, image_b64=None):
        body = {"user": user, **({"text": text} if text is not None else {}),
                **({"image_b64": image_b64} if image_b64 else {})}
        resp = await client.post("/sim/api/wecom/say", json=body)
        assert (await resp.json())["callback_status"] == 200
        await run_pending(services_of(app))

    async def click(user, task_id, key):
        clock.advance(seconds=2)  # WeCom keys a click on its second: two clicks are two seconds apart
        resp = await client.post("/sim/api/wecom/click", json={"user": user, "task_id": task_id, "key": key})
        assert (await resp.json())["callback_status"] == 200
        await run_pending(services_of(app))

    for text in ("9栋2单元301马桶堵了", "刘女士 13912345678", "确认"):
        await say("r1", text)
    [sent] = [i for i in await _wecom_sent(client, "zhangsan") if i.get("payload", {}).get("msgtype") == "template_card"]
    task = sent["payload"]["template_card"]["task_id"]
    keys = {b["text"]: b["key"] for b in sent["payload"]["template_card"]["button_list"]}

    await click("zhangsan", task, keys["接单"])
    update = [i for i in await _wecom_sent(client, "zhangsan") if i["kind"] == "card_update"][-1]
    tc = update["payload"]["template_card"]  # the whole card rewritten, with the job's buttons
    assert update["task_id"] == task and [b["text"] for b in tc["button_list"]] == ["已到达", "改约", "转派"]
    keys = {b["text"]: b["key"] for b in tc["button_list"]}
    other = [i for i in await _wecom_sent(client, "zhaoliu") if i["kind"] == "card_update"][-1]
    assert "已被 张师傅 接单" in other["payload"]["button"]["replace_name"]  # greyed, not rewritten

    await click("zhangsan", task, keys["已到达"])
    tc = [i for i in await _wecom_sent(client, "zhangsan") if i["kind"] == "card_update"][-1]["payload"]["template_card"]
    assert [b["text"] for b in tc["button_list"]] == ["报价", "暂停", "完工", "转派"]
    keys = {b["text"]: b["key"] for b in tc["button_list"]}

    await click("zhangsan", task, keys["完工"])
    assert any("用了哪些材料" in t and "1. 水龙头" in t for t in _wecom_texts(await _wecom_sent(client, "zhangsan")))
    for text in ("2 1", "30"):
        await say("zhangsan", text)
    await say("zhangsan", "跳过")
    await say("zhangsan", image_b64=PNG)
    assert any("收到第 1 张完工照片" in t for t in _wecom_texts(await _wecom_sent(client, "zhangsan")))
    await say("zhangsan", "好了")
    await say("zhangsan", "确认")
    assert any("已完工" in t for t in _wecom_texts(await _wecom_sent(client, "zhangsan")))
    t = await Sim(client).ticket("BX20261129-0001")
    assert t["status"] == "completed" and t["materials"] == [{"name": "生料带", "qty": 1}] and t["minutes"] == 30
    assert len(t["after_photos"]) == 1
    # The flow kept the 完工 click's response_code: the card it was pressed on shows the job done.
    last = [i for i in await _wecom_sent(client, "zhangsan") if i["kind"] == "card_update"][-1]["payload"]
    assert "等待验收" in last["template_card"]["replace_text"]


async def test_the_job_over_feishu_card_action_trigger(aiohttp_client, make_settings, clock, backend):
    """Plumbers on Feishu only: the trade's group card carries the buttons, and 接单 there brings the job card
    to the taker's 1:1 chat, where its buttons are pressed."""
    port = unused_port()
    staff = [{"name": "张师傅", "role": "technician", "trades": ["plumbing"], "feishu_open_id": "ou_zhangsan"},
             {"name": "赵师傅", "role": "technician", "trades": ["plumbing"], "feishu_open_id": "ou_zhaoliu"}]
    settings = make_settings(service={"public_url": f"http://127.0.0.1:{port}"}, staff=staff,
                             trades=[{"key": "plumbing", "name": "水", "feishu_chat_id": "oc_plumbing_group"}],
                             prices=[{"key": "tap", "name": "更换水龙头（人工）", "amount": "50"}])
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix, demo_feishu=True)
    client = await aiohttp_client(app, server_kwargs={"port": port})

    async def feishu_sent(receive_id):
        resp = await client.get("/sim/feishu/_sent", params={"receive_id": receive_id})
        return (await resp.json())["sent"]

    def buttons(content):
        return {e["text"]["content"]: e["behaviors"][0]["value"] for col in content["body"]["elements"]
                if col.get("tag") == "column_set" for c in col["columns"] for e in c["elements"]}

    async def click(user, message, chat, value):
        resp = await client.post("/sim/api/feishu/click", json={
            "user": user, "message_id": message, "chat_id": chat, "value": value})
        answer = (await resp.json())["answer"]
        await run_pending(services_of(app))
        return answer

    async def say(text):
        resp = await client.post("/sim/api/feishu/say", json={"user": "zhangsan", "text": text})
        assert (await resp.json())["callback_status"] == 200
        await run_pending(services_of(app))

    for text in ("9栋2单元301马桶堵了 王女士 13812345678", "确认"):
        resp = await client.post("/sim/api/feishu/say", json={"user": "r1", "text": text})
        await run_pending(services_of(app))
    [group] = [m for m in await feishu_sent("oc_plumbing_group") if m["msg_type"] == "interactive"]
    answer = await click("zhangsan", group["message_id"], "oc_plumbing_group", buttons(group["content"])["接单"])
    assert "接单成功" in answer["toast"]["content"] and "已被 张师傅 接单" in str(answer["card"]["data"])

    # Taken from the group card, the job comes to 张师傅 1:1 as his own job card.
    [job] = [m for m in await feishu_sent("ou_zhangsan") if m["msg_type"] == "interactive"]
    assert list(buttons(job["content"])) == ["已到达", "改约", "转派"]
    answer = await click("zhangsan", job["message_id"], job["chat_id"], buttons(job["content"])["已到达"])
    assert answer["toast"]["type"] == "success"
    assert list(buttons(answer["card"]["data"])) == ["报价", "暂停", "完工", "转派"]

    answer = await click("zhangsan", job["message_id"], job["chat_id"], buttons(answer["card"]["data"])["报价"])
    assert "请在与我的单聊中继续「报价」" in answer["toast"]["content"]
    texts = [m["content"].get("text", "") for m in await feishu_sent("ou_zhangsan") if m["msg_type"] == "text"]
    assert any("1. 更换水龙头（人工） 50元" in t for t in texts)
    for text in ("1", "跳过", "确认"):
        await say(text)
    t = await Sim(client).ticket("BX20261129-0001")
    assert t["status"] == "quoted" and t["quote"]["total"] == "50.00"
    patched = [m for m in await feishu_sent("ou_zhangsan") if m["message_id"] == job["message_id"]][0]
    assert "待业主确认" in str(patched["content"]) and buttons(patched["content"]) == {}
