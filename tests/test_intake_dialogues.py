"""Dialogues a resident has with the bot through the simulator, end to end to a ticket in the REST API."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.conftest import auth

PNG = base64.b64encode(
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x8d\xa3\x9d\x00\x00\x00\x00IEND\xaeB`\x82"
).decode()
CORPUS = [json.loads(line) for line in
          (Path(__file__).parent / "data" / "intake_corpus.jsonl").read_text(encoding="utf-8").splitlines() if line]


async def test_three_messages_from_first_report_to_ticket(sim):
    """Location and fault in the first message → contact asked once (name + phone) → confirm → ticket."""
    r1 = await sim.say("u1", "3栋2单元1502卫生间水管漏水")
    assert any("姓名" in t and "电话" in t for t in r1)
    r2 = await sim.say("u1", "王女士 13812345678")
    assert "请核对" in r2[-1] and "3栋2单元1502" in r2[-1] and "业户单元" in r2[-1]
    r3 = await sim.say("u1", "确认")
    assert "BX20261129-0001" in r3[0]
    [t] = await sim.tickets()
    assert t["number"] == "BX20261129-0001"
    assert (t["area"], t["phone"], t["reporter_name"], t["trade"]) == ("unit", "13812345678", "王女士", "plumbing")
    assert t["status"] == "dispatched" and t["channel"] == "sim"  # BR-8: the demo plumbers got it
    detail = await sim.ticket(t["number"])
    assert [e["action"] for e in detail["events"]] == ["created", "dispatched"]
    assert detail["created_at"].endswith("+08:00")


async def test_everything_in_one_message_goes_straight_to_the_summary(sim):
    r = await sim.say("u1", "3栋2单元1502卫生间水管爆了 电话139 1234 5678 王女士")
    assert "请核对" in r[-1] and "【紧急】" in r[-1] and "13912345678" in r[-1]
    assert "BX" in (await sim.say("u1", "确认"))[0]
    [t] = await sim.tickets()
    assert t["category"] == "emergency"  # BR-5: 爆 → 紧急


async def test_slot_by_slot(sim):
    r = await sim.say("u2", "我要报修")
    assert any("什么问题" in t for t in r)
    r = await sim.say("u2", "灯不亮")
    assert any("在哪里" in t for t in r)
    r = await sim.say("u2", "A座大堂")
    assert any("姓名" in t for t in r)  # 大堂 → public, not asked
    r = await sim.say("u2", "13812345678")
    assert any("怎么称呼" in t for t in r)
    r = await sim.say("u2", "李先生")
    assert "公共区域" in r[-1] and "A座大堂" in r[-1]
    assert "BX" in (await sim.say("u2", "确认"))[0]
    [t] = await sim.tickets()
    assert (t["area"], t["trade"], t["reporter_name"]) == ("public", "electrical", "李先生")


async def test_area_is_asked_when_the_location_does_not_tell(sim):
    r = await sim.say("u3", "5栋的灯坏了")
    assert any("公共区域" in t and "业户单元" in t for t in r)
    r = await sim.say("u3", "是在公共区域")
    assert any("姓名" in t for t in r)


async def test_unfindable_location_is_reasked_with_examples(sim):
    await sim.say("u4", "水龙头一直滴水")
    r = await sim.say("u4", "家里")
    assert any("没能找到这个位置" in t and "3栋2单元1502" in t for t in r)
    r = await sim.say("u4", "12栋1单元301")
    assert any("姓名" in t for t in r)


@pytest.mark.parametrize("bad", ["1381234567", "23812345678", "138123456789"])
async def test_bad_phone_is_reasked_and_nothing_created(sim, bad):
    await sim.say("u5", "A座大堂的灯不亮了")
    r = await sim.say("u5", f"张先生 {bad}")
    assert any("不是有效的电话号码" in t for t in r)
    r = await sim.say("u5", "确认")
    assert not any("BX" in t for t in r)
    assert await sim.tickets() == []


async def test_landline_with_area_code_is_accepted(sim):
    await sim.say("u5", "16栋601卫生间吊顶掉了一块")
    r = await sim.say("u5", "孙先生 021-58881234")
    assert "02158881234" in r[-1]


async def test_corrections_at_any_point(sim):
    await sim.say("u6", "6栋1单元1101厨房下水管漏水，电话13811112222，赵女士")
    r = await sim.say("u6", "电话错了，是13911112222")
    assert "已更新" in r[-1] and "13911112222" in r[-1] and "13811112222" not in r[-1]
    r = await sim.say("u6", "地址改成6栋1单元1102")
    assert "6栋1单元1102" in r[-1]
    await sim.say("u6", "确认")
    [t] = await sim.tickets()
    assert t["phone"] == "13911112222" and "1102" in t["location"]


async def test_correction_before_the_summary(sim):
    await sim.say("u6", "A座大堂的灯不亮了")
    r = await sim.say("u6", "地址改成B座大堂")
    assert any("B座大堂" in t or "姓名" in t for t in r)
    await sim.say("u6", "周先生 13700001111")
    await sim.say("u6", "确认")
    [t] = await sim.tickets()
    assert t["location"].startswith("B座")


async def test_cancel_drops_the_draft(sim):
    await sim.say("u7", "A座大堂的灯不亮了")
    r = await sim.say("u7", "取消")
    assert "已取消" in r[0]
    r = await sim.say("u7", "确认")
    assert not any("BX" in t for t in r)
    assert await sim.tickets() == []
    assert "没有正在填写" in (await sim.say("u7", "取消"))[0]


async def test_help_keeps_the_draft(sim):
    await sim.say("u7", "A座大堂的灯不亮了")
    r = await sim.say("u7", "帮助")
    assert "报修怎么用" in r[0] and any("姓名" in t for t in r[1:])


async def test_greeting_creates_nothing(sim):
    for text in ("你好", "在吗？", "hello"):
        r = await sim.say("u8", text)
        assert "物业报修" in r[0]
    assert "请核对" not in "".join(await sim.say("u8", "确认"))
    assert await sim.tickets() == []


@pytest.mark.parametrize("text", ["", "   ", "😀😀😀", "👍", "。。。"])
async def test_empty_or_emoji_only_is_reasked_politely(sim, text):
    await sim.say("u9", "A座大堂的灯不亮了")
    r = await sim.say("u9", text)
    assert "没看懂" in r[0] and any("姓名" in t for t in r)


async def test_five_thousand_characters_is_reasked(sim):
    await sim.say("u9", "A座大堂的灯不亮了")
    r = await sim.say("u9", "漏水" * 2500)
    assert "太长" in r[0]
    r = await sim.say("u9", "王女士 13812345678")
    assert "A座大堂" in r[-1]  # the draft survived


async def test_photo_is_stored_and_attached(sim, client):
    await sim.say("u10", "A座大堂的灯不亮了")
    r = await sim.say("u10", image_b64=PNG)
    assert "已收到照片（共 1 张）" in r[0]
    r = await sim.say("u10", "王女士 13812345678")
    assert "照片：1 张" in r[-1]
    await sim.say("u10", "确认")
    [t] = await sim.tickets()
    assert len(t["photos"]) == 1
    resp = await client.get(t["photos"][0].replace("http://testserver", ""))
    assert resp.status == 200 and resp.headers["Content-Type"] == "image/png"
    assert await resp.read() == base64.b64decode(PNG)
    forged = t["photos"][0].replace("http://testserver", "")[:-4] + "0000"
    assert (await client.get(forged)).status == 403


async def test_photo_first_then_description(sim):
    r = await sim.say("u10", image_b64=PNG)
    assert "已收到照片" in r[0] and "什么问题" in r[0]
    r = await sim.say("u10", "9栋楼顶水箱溢水")
    assert any("姓名" in t for t in r)


async def test_binary_that_is_not_an_image_is_refused(sim):
    await sim.say("u11", "A座大堂的灯不亮了")
    junk = base64.b64encode(b"MZ\x90\x00" + bytes(range(256)) * 4).decode()
    r = await sim.say("u11", image_b64=junk)
    assert "不是能识别的图片" in r[0]
    r = await sim.say("u11", "王女士 13812345678")
    assert "照片：0 张" in r[-1]


async def test_duplicate_report_joins_the_open_ticket(sim):
    """BR-4: same location and trade within 24 h → shown the open ticket, joined as watcher."""
    await sim.say("alice", "A座大堂的自动门坏了，一直开着关不上 王女士 13812345678")
    await sim.say("alice", "确认")
    r = await sim.say("bob", "A座大堂自动门关不上了")
    assert "BX20261129-0001" in r[0] and "已把您加入关注" in r[0]
    assert len(await sim.tickets()) == 1
    mine = await sim.say("bob", "我的报修")
    assert "BX20261129-0001" in mine[0]
    detail = await sim.ticket("BX20261129-0001")
    assert [e["action"] for e in detail["events"]] == ["created", "dispatched", "watcher_joined"]


async def test_duplicate_can_still_be_filed_as_new(sim):
    await sim.say("alice", "A座大堂的自动门坏了 王女士 13812345678")
    await sim.say("alice", "确认")
    await sim.say("bob", "A座大堂的自动门玻璃裂了")
    r = await sim.say("bob", "新报")
    assert any("姓名" in t for t in r)
    await sim.say("bob", "刘先生 13900001111")
    assert "BX20261129-0002" in (await sim.say("bob", "确认"))[0]


async def test_duplicate_window_is_24_hours(sim, clock):
    await sim.say("alice", "A座大堂的自动门坏了 王女士 13812345678")
    await sim.say("alice", "确认")
    clock.advance(hours=25)
    r = await sim.say("bob", "A座大堂自动门关不上了")
    assert not any("已把您加入关注" in t for t in r)


async def test_status_queries(sim):
    await sim.say("u12", "A座大堂的灯不亮了 王女士 13812345678")
    await sim.say("u12", "确认")
    r = await sim.say("u12", "我的报修")
    assert "BX20261129-0001" in r[0] and "已派单" in r[0]
    r = await sim.say("u12", "查询 BX20261129-0001")
    assert "A座大堂" in r[0] and "已派单" in r[0]
    r = await sim.say("u12", "查询 BX20991231-9999")
    assert "没有找到" in r[0]
    r = await sim.say("nobody", "我的报修")
    assert "还没有报修记录" in r[0]


async def test_two_residents_in_one_group_keep_separate_drafts(sim):
    await sim.say("alice", "A座大堂的灯不亮了", chat="group-1")
    await sim.say("bob", "9栋2单元301马桶堵了", chat="group-1")
    ra = await sim.say("alice", "王女士 13812345678", chat="group-1")
    rb = await sim.say("bob", "刘先生 13900001111", chat="group-1")
    assert "A座大堂" in ra[-1] and "9栋2单元301" not in ra[-1]
    assert "9栋2单元301" in rb[-1] and "A座大堂" not in rb[-1]
    await sim.say("alice", "确认", chat="group-1")
    await sim.say("bob", "确认", chat="group-1")
    tickets = {t["reporter_name"]: t for t in await sim.tickets()}
    assert tickets["王女士"]["location"].startswith("A座") and tickets["刘先生"]["trade"] == "plumbing"


async def test_idle_draft_expires_with_a_message(sim, client, clock):
    from bot.runtime import run_pending, sweep_once
    from bot.services import services_of

    await sim.say("u13", "A座大堂的灯不亮了")
    clock.advance(minutes=29)
    assert await sweep_once(services_of(client.app)) == 0
    clock.advance(minutes=2)
    assert await sweep_once(services_of(client.app)) == 1
    await run_pending(services_of(client.app))  # the notice travels through the outbox like every message
    sent = (await (await client.get("/sim/api/sent", params={"user": "u13"})).json())["sent"]
    assert sent[-1]["proactive"] and "已自动作废" in sent[-1]["text"]
    r = await sim.say("u13", "王女士 13812345678")
    assert not any("请核对" in t for t in r)  # the old draft is gone


async def test_late_answer_after_expiry_is_told(sim, clock):
    await sim.say("u14", "A座大堂的灯不亮了")
    clock.advance(minutes=31)
    r = await sim.say("u14", "王女士 13812345678")
    assert "已自动作废" in r[0]


async def test_returning_resident_is_not_asked_for_contact_again(sim):
    await sim.say("u15", "A座大堂的灯不亮了 王女士 13812345678")
    await sim.say("u15", "确认")
    r = await sim.say("u15", "9栋2单元301马桶堵了")
    assert "请核对" in r[-1] and "13812345678" in r[-1] and "沿用上次" in r[-1]


async def test_visit_time_for_unit_repairs(sim):
    await sim.say("u16", "洗手盆下面的软管在渗水 我在12栋2单元902 今天晚上7点后在家")
    r = await sim.say("u16", "王女士 13812345678")
    assert "上门时间：今天晚上7点后" in r[-1]
    await sim.say("u16", "确认")
    [t] = await sim.tickets()
    assert t["visit_at"].startswith("2026-11-29T19:00")


@pytest.mark.parametrize("case", CORPUS, ids=[c["id"] for c in CORPUS])
async def test_corpus_reaches_a_correct_ticket(sim, case):
    """Every corpus message, answered as a resident would, yields the expected ticket fields."""
    user = f"corpus-{case['id']}"
    r = await sim.say(user, case["text"])
    for _ in range(3):
        last = r[-1]
        if "请核对" in last:
            break
        if "公共区域" in last and "业户单元" in last:
            r = await sim.say(user, "公共区域" if case["area"] == "public" else "业户单元")
        elif "姓名" in last:
            r = await sim.say(user, "测试员 13700000000")
        elif "称呼" in last:
            r = await sim.say(user, "测试员")
        elif "电话" in last:
            r = await sim.say(user, "13700000000")
        else:
            pytest.fail(f"unexpected question: {last}")
    assert "请核对" in r[-1]
    assert "BX" in (await sim.say(user, "确认"))[0]
    [t] = await sim.tickets()
    assert t["area"] == case["area"]
    for part in case["location_has"]:
        assert part in t["location"]
    assert t["phone"] == case.get("phone", "13700000000")
    if "name" in case:
        assert t["reporter_name"] == case["name"]
    assert t["category"] == case["category"]
    if "trade_in" in case:
        assert t["trade"] in case["trade_in"]


async def test_a_redelivered_message_steps_nothing(client):
    """The inbox delivers at least once; the same platform message id must not step twice."""
    from bot.services import services_of
    from conversations.messages import InboundMessage

    engine = services_of(client.app).conversations
    first = await engine.handle(InboundMessage("sim", "r", "r", "A座大堂的灯不亮了 王女士 13812345678", message_id="m1"))
    again = await engine.handle(InboundMessage("sim", "r", "r", "A座大堂的灯不亮了 王女士 13812345678", message_id="m1"))
    assert [r.text for r in again] == [r.text for r in first]
    done = await engine.handle(InboundMessage("sim", "r", "r", "确认", message_id="m2"))
    assert "BX20261129-0001" in done[0].text
    replay = await engine.handle(InboundMessage("sim", "r", "r", "确认", message_id="m2"))
    assert [r.text for r in replay] == [r.text for r in done]
    resp = await client.get("/api/v1/tickets", headers=auth())
    assert (await resp.json())["total"] == 1


async def test_an_unclear_area_correction_is_reasked(sim):
    await sim.say("u17", "5栋的灯坏了")
    await sim.say("u17", "公共区域")
    r = await sim.say("u17", "区域改成不知道")
    assert any("公共区域" in t and "业户单元" in t for t in r)


async def test_a_bad_phone_in_the_first_message_is_pointed_out(sim):
    r = await sim.say("u18", "A座大堂的灯不亮了 电话1381234567 王女士")
    assert any("「1381234567」不是有效的电话号码" in t for t in r)
    r = await sim.say("u18", "13812345678")
    assert "请核对" in r[-1] and "13812345678" in r[-1]


async def test_a_returning_resident_is_remembered_with_the_latest_contact(sim, client):
    """One person per account, whatever the number of reports; the last report's name and phone are kept."""
    from sqlalchemy import func, select

    from bot.services import services_of
    from dispatch.people import person_for
    from store.models import Person

    await sim.say("u30", "A座大堂的灯不亮了 王女士 13812345678")
    await sim.say("u30", "确认")
    await sim.say("u30", "9栋2单元301马桶堵了 王小姐 13900001111")
    await sim.say("u30", "确认")
    async with services_of(client.app).sessions() as s:
        person = await person_for(s, "sim", "u30")
        residents = (await s.execute(select(func.count(Person.id)).where(Person.role == "resident"))).scalar_one()
    assert (person.name, person.phone, person.role, residents) == ("王小姐", "13900001111", "resident", 1)
    tickets = await sim.tickets()
    assert len(tickets) == 2


async def test_staff_reporting_a_fault_keep_their_staff_record(sim, client):
    from bot.services import services_of
    from dispatch.people import person_for

    await sim.say("zhangsan", "A座大堂的灯不亮了 王女士 13812345678")
    r = await sim.say("zhangsan", "确认")
    assert "单号" in r[0]
    async with services_of(client.app).sessions() as s:
        person = await person_for(s, "sim", "zhangsan")
    assert (person.name, person.phone, person.role) == ("张师傅", "13800000001", "technician")
    [t] = await sim.tickets()
    assert t["reporter_name"] == "王女士" and t["phone"] == "13812345678"


async def test_an_emergency_worded_without_any_keyword_is_filed_as_one(sim):
    """Issue 12 / BR-5, BR-9: a danger described, not named, must not wait hours as daily work."""
    r = await sim.say("u-hazard", "7栋1801 卫生间天花板水哗哗往下灌 楼上没人在家 王女士 13812345678")
    assert "请核对" in r[-1] and "【紧急】" in r[-1]
    assert "BX" in (await sim.say("u-hazard", "确认"))[0]
    [t] = await sim.tickets()
    assert (t["category"], t["trade"]) == ("emergency", "plumbing")


async def test_the_location_names_the_hazards_object(sim):
    """积水 in the basement car park is a flood, though the fault text alone names no place."""
    r = await sim.say("u-basement", "地库积水没过脚踝了 车都开不出去 李先生 13812345678")
    assert "【紧急】" in r[-1]
