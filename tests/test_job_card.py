"""After 接单 the assignee's own copy is their job card (contract.md "Lifecycle"): re-rendered at every change
with exactly the buttons its status allows; every other copy shows where the job stands; stale or foreign
presses are refused and change nothing."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update

from bot.app import create_app
from bot.runtime import run_pending
from bot.services import services_of
from conversations.messages import ButtonPress
from dispatch.payloads import ACTIONS, RESIDENT_ANSWERS, CardAction, decode
from dispatch.lifecycle import STAFF_ACTIONS
from dispatch.ticket_card import ticket_card
from dispatch.tickets import get_ticket
from store.models import Ticket
from tests.conftest import Sim, auth

REPORT = ["9栋2单元301马桶堵了", "刘女士 13912345678", "确认"]


async def sent_to(client, user: str) -> list[dict]:
    return (await (await client.get("/sim/api/sent", params={"user": user})).json())["sent"]


async def cards_of(client, user: str) -> list[dict]:
    return [i for i in await sent_to(client, user) if i.get("card")]


async def last_card(client, user: str) -> dict:
    return (await cards_of(client, user))[-1]


def labels(card: dict) -> list[str]:
    return [label for label, _ in card["card"]["buttons"]]


def payload_of(card: dict, label: str) -> str:
    return next(p for lab, p in card["card"]["buttons"] if lab == label)


async def press(client, user: str, payload: str) -> dict:
    resp = await client.post("/sim/api/press", json={"user": user, "payload": payload})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def report(sim: Sim, lines=REPORT, user: str = "resident") -> str:
    for text in lines:
        r = await sim.say(user, text)
    return r[0].split("单号 ")[1].split()[0]


async def rest(client, number: str, action: str, user: str, **body) -> tuple[int, dict]:
    resp = await client.post(f"/api/v1/tickets/{number}/actions/{action}", headers=auth(),
                             json={"actor": {"channel": "sim", "user": user}, **body})
    await run_pending(services_of(client.app))  # the cards it changed, as the outbox loop would send them
    return resp.status, await resp.json()


async def accepted(client, sim) -> str:
    number = await report(sim)
    r = await press(client, "zhangsan", CardAction("accept", number).encode())
    assert r["outcome"] == "ok"
    return number


def test_the_codec_carries_every_staff_action_and_the_residents_answers():
    for action in (*STAFF_ACTIONS, *RESIDENT_ANSWERS):
        a = CardAction(action, "BX20261129-0001")
        assert decode(a.encode()) == a and a.encode() == f"rb1|{action}|BX20261129-0001"
    assert set(ACTIONS) == set(STAFF_ACTIONS) | {"quote_agree", "quote_decline", "visit_agree", "visit_decline",
                                                "signoff_fixed", "signoff_not_fixed"}
    assert decode("rb1|signoff_auto|BX20261129-0001") is None  # a timer's, never pressed
    assert decode("rb1|survey_done|BX20261129-0001") is None


async def test_the_job_card_follows_the_job_through_the_simulator(client, sim):
    number = await accepted(client, sim)
    card = await last_card(client, "zhangsan")
    assert labels(card) == ["已到达", "改约", "转派"]
    assert "13912345678" in card["text"] and "已接单" in card["card"]["status"]
    assert "时限：到场时限 11-29 10:20" in card["text"]  # BR-10: in the unit within 20 min of the report
    other = await last_card(client, "zhaoliu")  # the other plumber's copy: the status, no buttons
    assert labels(other) == [] and "已被 张师傅 接单" in other["card"]["status"]

    r = await press(client, "zhangsan", payload_of(card, "已到达"))
    assert r["outcome"] == "ok" and "已到达" in r["replies"][0]["text"]
    card = await last_card(client, "zhangsan")
    assert labels(card) == ["报价", "暂停", "完工", "转派"] and "维修中" in card["card"]["status"]
    assert labels(await last_card(client, "zhaoliu")) == []
    # A step of 张师傅's job leaves 赵师傅's copy as it was: no new bubble for him.
    assert len(await cards_of(client, "zhaoliu")) == 2

    status, _ = await rest(client, number, "hold", "zhangsan", reason="等配件", until="2026-11-30T15:00:00+08:00")
    assert status == 200
    card = await last_card(client, "zhangsan")
    assert labels(card) == ["恢复", "转派"]
    assert "暂停：等配件，预计 11-30 15:00 恢复" in card["text"]
    await press(client, "zhangsan", payload_of(card, "恢复"))
    assert labels(await last_card(client, "zhangsan")) == ["报价", "暂停", "完工", "转派"]

    status, _ = await rest(client, number, "quote", "zhangsan", items=[{"key": "drain_clear"}, {"name": "更换软管", "amount": "25"}])
    assert status == 200
    card = await last_card(client, "zhangsan")
    assert labels(card) == [] and "等待业主答复" in card["card"]["status"]
    assert "报价：疏通下水道 80元；更换软管 25元 · 合计 105元（待业主确认）" in card["text"]


# The assignee's buttons in every status (contract.md "Lifecycle"), for a unit and a public-area ticket.
BUTTONS = {
    "accepted": ["已到达", "改约", "转派"],
    "on_site": ["报价", "暂停", "完工", "转派"],
    "quote_accepted": ["暂停", "完工", "转派"],
    "rework": ["已到达", "完工", "转派"],
    "on_hold": ["恢复", "转派"],
    "rejected": ["报价"],   # a new quote once the housekeeper has negotiated (BR-13)
    "quoted": [], "completed": [], "verified": [], "closed": [], "cancelled": [],
}
STATUS_LINE = {"quoted": "等待业主答复", "rejected": "管家会与业主协商", "completed": "等待验收",
               "verified": "已验收", "closed": "已关闭", "cancelled": "已取消"}


@pytest.mark.parametrize("area", ["unit", "public"])
async def test_the_buttons_of_each_status(client, sim, area):
    number = await accepted(client, sim)
    services = services_of(client.app)
    for status, expected in BUTTONS.items():
        async with services.sessions() as s, s.begin():
            await s.execute(update(Ticket).where(Ticket.number == number).values(status=status, area=area))
        async with services.sessions() as s:
            t = await get_ticket(s, number)
            job = ticket_card(t, "technician", services.texts, recipient=("sim", "zhangsan"))
            other = ticket_card(t, "technician", services.texts, recipient=("sim", "zhaoliu"))
            group = ticket_card(t, "group", services.texts)
        want = [b for b in expected if area == "unit" or b != "报价"]  # BR-13: public-area work is not quoted
        assert [b.label for b in job.buttons] == want, status
        assert all(decode(b.payload).ticket == number for b in job.buttons)
        assert other.buttons == () and group.buttons == ()
        assert "张师傅" in other.status or status in ("verified", "closed", "cancelled")
        if status in STATUS_LINE:
            assert STATUS_LINE[status] in job.status, status
        assert "13912345678" in job.as_text() and "13912345678" not in group.as_text()


async def test_a_warranty_repair_offers_no_quote(client, sim):
    number = await accepted(client, sim)
    services = services_of(client.app)
    async with services.sessions() as s, s.begin():
        await s.execute(update(Ticket).where(Ticket.number == number).values(status="on_site",
                                                                            warranty_of="BX20261101-0007"))
    async with services.sessions() as s:
        job = ticket_card(await get_ticket(s, number), "technician", services.texts, recipient=("sim", "zhangsan"))
    assert [b.label for b in job.buttons] == ["暂停", "完工", "转派"]
    assert "保修期内返修，原单 BX20261101-0007" in job.as_text()
    r = await press(client, "zhangsan", CardAction("quote", number).encode())
    assert r["outcome"] == "invalid" and "保修期内" in r["replies"][0]["text"]


async def test_a_resident_pressing_a_technicians_button_is_refused_and_nothing_changes(client, sim):
    number = await accepted(client, sim)
    await press(client, "zhangsan", CardAction("arrive", number).encode())
    before = await sim.ticket(number)
    for action in ("complete", "quote", "hold", "arrive", "transfer", "waive_approve"):
        r = await press(client, "resident", CardAction(action, number).encode())
        assert r["outcome"] == "unknown_person", action
        assert "只有登记的工作人员" in r["replies"][0]["text"]
    assert await sim.ticket(number) == before
    # No staff conversation was started for the resident: their next words are an ordinary message.
    replies = await sim.say("resident", "1 2")
    assert not any("报价" in r or "材料" in r for r in replies)


async def test_a_stale_card_from_before_a_transfer_is_refused(client, sim):
    number = await accepted(client, sim)
    await press(client, "zhangsan", CardAction("arrive", number).encode())
    stale = await last_card(client, "zhangsan")
    status, body = await rest(client, number, "transfer", "zhangsan", to="赵师傅")
    assert status == 200 and body["ticket"]["assignee"]["name"] == "赵师傅"
    # 赵师傅 now holds the job: his copy is his job card.
    assert labels(await last_card(client, "zhaoliu")) == ["已到达", "改约", "转派"]
    assert labels(await last_card(client, "zhangsan")) == []
    before = await sim.ticket(number)
    for label in ("完工", "暂停", "报价", "转派"):
        r = await press(client, "zhangsan", payload_of(stale, label))
        assert r["outcome"] in ("not_allowed", "taken"), label
        assert "这张单已转给他人（现由 赵师傅 负责）" in r["replies"][0]["text"], label
    assert await sim.ticket(number) == before
    # No flow was left behind: 张师傅's next message is not read as a quote.
    assert not any("报价" in r for r in await sim.say("zhangsan", "1"))


async def test_an_illegal_press_is_refused_at_once_with_a_clear_message(client, sim):
    number = await accepted(client, sim)
    r = await press(client, "zhangsan", CardAction("complete", number).encode())
    assert r["outcome"] == "bad_state" and "还没到达现场，不能「完工」" in r["replies"][0]["text"]
    r = await press(client, "zhaoliu", CardAction("complete", number).encode())
    assert "这张单已转给他人" in r["replies"][0]["text"] or "不是这张单的维修人" in r["replies"][0]["text"]
    await press(client, "zhangsan", CardAction("arrive", number).encode())
    await rest(client, number, "quote", "zhangsan", items=[{"key": "drain_clear"}])
    r = await press(client, "zhangsan", CardAction("complete", number).encode())
    assert r["outcome"] == "bad_state" and "报价未经业主同意不能完工" in r["replies"][0]["text"]
    assert (await sim.ticket(number))["status"] == "quoted"


async def test_two_completions_at_once_one_wins(aiohttp_client, make_settings, clock, backend):
    """Two 完工 with their bodies at the same moment, over two app instances: the ticket completes once."""
    settings = make_settings()
    apps = [create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix) for _ in range(2)]
    clients = [await aiohttp_client(a) for a in apps]
    sim = Sim(clients[0])
    number = await accepted(clients[0], sim)
    await press(clients[0], "zhangsan", CardAction("arrive", number).encode())
    body = {"materials": [{"name": "生料带", "qty": 1}], "minutes": 30}
    payload = CardAction("complete", number).encode()
    results = await asyncio.gather(*(services_of(apps[i]).card_actions.press(
        ButtonPress("sim", "zhangsan", "zhangsan", payload, press_id=f"p{i}"), body=body) for i in range(2)))
    outcomes = sorted(r.outcome for r, _ in results)
    assert outcomes in (["bad_state", "ok"], ["closed", "ok"]), outcomes
    t = await sim.ticket(number)
    assert t["status"] == "completed"
    assert [e["action"] for e in t["events"]].count("completed") == 1
    # Over REST as well: the second answer is a 409 that changed nothing.
    status, body_ = await rest(clients[1], number, "complete", "zhangsan", minutes=5)
    assert status == 409 and body_["outcome"] in ("bad_state", "closed")


async def test_the_rest_action_takes_the_body_and_answers_with_the_right_status(client, sim):
    number = await accepted(client, sim)
    status, body = await rest(client, number, "complete", "zhangsan")
    assert status == 409 and body["outcome"] == "bad_state" and "还没到达现场" in body["message"]
    assert (await rest(client, number, "arrive", "zhangsan"))[0] == 200
    status, body = await rest(client, number, "quote", "zhangsan", items=[])
    assert status == 422 and body["error"]["code"] == "invalid" and body["error"]["field"] == "items"
    status, body = await rest(client, number, "quote", "zhangsan", items=[{"name": "换阀芯", "amount": "abc"}])
    assert status == 422 and body["error"]["field"] == "items"
    status, body = await rest(client, number, "complete", "zhaoliu")
    assert status == 403 and body["error"]["code"] == "not_allowed"
    status, body = await rest(client, number, "complete", "resident")
    assert status == 403 and body["error"]["code"] == "unknown_person"
    status, body = await rest(client, number, "hold", "zhangsan", reason="等厂家", until="2020-01-01T00:00:00")
    assert status == 422 and body["error"]["field"] == "until"
    status, body = await rest(client, number, "quote", "zhangsan", items=[{"key": "drain_clear"}], note="含配件")
    assert status == 200 and body["ticket"]["status"] == "quoted"
    status, body = await rest(client, number, "quote_agree", "zhangsan")
    assert status == 404  # a resident's answer is not a staff action
    assert (await sim.ticket(number))["status"] == "quoted"


async def test_a_public_quote_is_refused_before_anything_is_asked(client, sim):
    number = await report(sim, ["3号楼大堂的水管漏水了", "王先生 13912345678", "确认"])
    t = await sim.ticket(number)
    assert t["area"] == "public"
    await press(client, "zhangsan", CardAction("accept", number).encode())
    await press(client, "zhangsan", CardAction("arrive", number).encode())
    assert labels(await last_card(client, "zhangsan")) == ["暂停", "完工", "转派"]
    r = await press(client, "zhangsan", CardAction("quote", number).encode())
    assert r["outcome"] == "invalid" and "公共区域的维修不收费" in r["replies"][0]["text"]


async def test_the_waiver_card_reaches_the_director_who_approves_it(client, sim):
    """BR-15: a 签免 under 500 元 is the property director's; the card shows amount, payer, reason, quote."""
    number = await accepted(client, sim)
    await press(client, "zhangsan", CardAction("arrive", number).encode())
    await rest(client, number, "quote", "zhangsan", items=[{"key": "drain_clear"}])
    status, _ = await rest(client, number, "waive", "sunguanjia", payer="property", reason="管道老化，非业主责任")
    assert status == 200
    card = await last_card(client, "chenzongjian")
    assert labels(card) == ["批准", "驳回"]
    for shown in ("签免审批", "80元", "物业公司", "管道老化，非业主责任", "疏通下水道 80元", "孙管家"):
        assert shown in card["text"], shown
    assert await cards_of(client, "liuzong") == []  # leadership only from 500 元
    r = await press(client, "liuzong", payload_of(card, "批准"))
    assert r["outcome"] == "not_allowed"
    r = await press(client, "chenzongjian", payload_of(card, "批准"))
    assert r["outcome"] == "ok" and "已批准" in r["replies"][0]["text"]
    card = await last_card(client, "chenzongjian")
    assert labels(card) == [] and "已批准签免（陈总监）" in card["card"]["status"]
    t = await sim.ticket(number)
    assert t["status"] == "quote_accepted"
    assert labels(await last_card(client, "zhangsan")) == ["暂停", "完工", "转派"]


async def test_the_simulator_lists_the_whole_demo_cast(client):
    staff = (await (await client.get("/sim/api/people")).json())["staff"]
    roles = {s["name"]: s["role"] for s in staff}
    assert roles["陈总监"] == "director" and roles["刘总"] == "leadership"
    assert roles["孙管家"] == "housekeeper" and roles["周前台"] == "desk"
    page = await (await client.get("/sim/")).text()
    assert "pressButton" in page and "drawWecomCard" in page


async def test_a_residents_answer_button_runs_their_answer(client, sim):
    """rb1|quote_agree|… pressed by the reporter is the same answer as typing 同意 (dispatch/resident.py)."""
    pytest.importorskip("dispatch.resident", reason="the resident's answers land with the resident branch")
    number = await accepted(client, sim)
    await press(client, "zhangsan", CardAction("arrive", number).encode())
    await rest(client, number, "quote", "zhangsan", items=[{"key": "drain_clear"}])
    agree = CardAction("quote_agree", number).encode()
    r = await press(client, "zhangsan", agree)  # not his ticket to answer
    assert r["outcome"] != "ok" and (await sim.ticket(number))["status"] == "quoted"
    r = await press(client, "resident", agree)
    assert r["outcome"] == "ok"
    assert (await sim.ticket(number))["status"] == "quote_accepted"
    assert labels(await last_card(client, "zhangsan")) == ["暂停", "完工", "转派"]
    r = await press(client, "resident", agree)  # answered once
    assert r["outcome"] == "bad_state" and "已经答复过" in r["replies"][0]["text"]


# ---- how each platform renders a job card -------------------------------------------------------------------

def _job(status: str, *labels_: str):
    from dispatch.cards import Button, Card
    return Card(title="水维修 · BX20261129-0001", fields=(("地点", "9栋2单元301"),), status=status,
                buttons=tuple(Button(lab, "rb1|arrive|BX20261129-0001") for lab in labels_), tags=("job",))


def test_wecom_rewrites_a_job_card_in_full_and_only_greys_other_copies():
    from bot.wecom import render
    from dispatch.cards import Card

    body = render.full_update(_job("已接单", "已到达", "改约", "转派"), "RC1", 1000002)
    native = body["template_card"]
    assert body["response_code"] == "RC1" and native["card_type"] == "button_interaction"
    assert [b["text"] for b in native["button_list"]] == ["已到达", "改约", "转派"]
    assert native["sub_title_text"].startswith("已接单") and "replace_text" not in native
    settled = render.full_update(_job("已完工，等待验收"), "RC2", 1000002)["template_card"]
    assert settled["replace_text"] == "已完工，等待验收"  # fresh fields, one greyed button with the status
    assert render.rewrites_in_full(_job("已完工，等待验收"))
    assert not render.rewrites_in_full(Card(title="T", status="已被 张师傅 接单"))


def test_feishu_shows_the_job_status_above_its_buttons():
    from bot.feishu import render

    elements = render.card(_job("维修中", "报价", "暂停", "完工", "转派"))["body"]["elements"]
    assert elements[-2] == {"tag": "markdown", "content": "**维修中**"}
    assert [c["elements"][0]["text"]["content"] for c in elements[-1]["columns"]] == ["报价", "暂停", "完工", "转派"]


async def test_a_wecom_group_copy_is_posted_again_only_when_its_status_moves(aiohttp_server, clock):
    from aiohttp import web

    from bot.sim.wecom_api import setup_fake_wecom
    from bot.tokens import Tokens
    from bot.wecom.client import WecomClient
    from bot.wecom.messenger import WecomMessenger
    from dispatch.cards import Card
    from relay.messengers import Recipient

    app = web.Application()
    fake = setup_fake_wecom(app, corp_id="wwcorp", secret="s", clock=clock)
    server = await aiohttp_server(app)
    client = WecomClient(api_base=str(server.make_url("/sim/wecom")), corp_id="wwcorp", secret="s",
                         agent_id=1000002, tokens=Tokens(clock))
    m = WecomMessenger(client, clock)
    fake.add_chat("plumbers")
    to = Recipient("wecom", chat="plumbers")
    copy = await m.send_card(to, Card(title="T", status=""))
    copy = await m.update_card(to, copy, Card(title="T", status="已被 张师傅 接单", fields=(("报价", "80元"),)))
    copy = await m.update_card(to, copy, Card(title="T", status="已被 张师傅 接单", fields=(("报价", "90元"),)))
    copy = await m.update_card(to, copy, Card(title="T", status="张师傅 已完工，等待验收"))
    await client.close()
    posted = [e["payload"]["markdown"]["content"] for e in fake.sent if e["kind"] == "appchat"]
    assert len(posted) == 3 and "接单" in posted[1] and "已完工" in posted[2]
