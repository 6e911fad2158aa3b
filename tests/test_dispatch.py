"""Dispatch (BR-8): cards to the trade's technicians, first accept wins, every copy shows the truth."""
from __future__ import annotations

import asyncio

from bot.services import services_of
from bot.app import create_app
from conversations.messages import ButtonPress
from dispatch.payloads import CardAction, decode
from tests.conftest import Sim, auth

REPORT = ["9栋2单元301马桶堵了", "刘女士 13912345678", "确认"]


async def sent_to(client, user: str) -> list[dict]:
    return (await (await client.get("/sim/api/sent", params={"user": user})).json())["sent"]


async def press_as(client, user: str, payload: str) -> dict:
    resp = await client.post("/sim/api/press", json={"user": user, "payload": payload})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def report(sim, user: str = "resident") -> str:
    for text in REPORT:
        r = await sim.say(user, text)
    return r[0].split("单号 ")[1].split()[0]


async def test_the_card_reaches_every_technician_of_the_trade_and_nobody_else(client, sim):
    number = await report(sim)
    for tech in ("zhangsan", "zhaoliu"):  # the demo plumbers
        [card] = [i for i in await sent_to(client, tech) if i.get("card")]
        assert number in card["text"] and "13912345678" in card["text"]  # technicians see the full phone
        assert [b[0] for b in card["card"]["buttons"]] == ["接单", "转派", "无法处理"]
    assert [i for i in await sent_to(client, "lisi") if i.get("card")] == []  # the electrician


async def test_first_accept_wins_and_every_copy_is_updated(client, sim):
    number = await report(sim)
    accept = CardAction("accept", number).encode()
    r = await press_as(client, "zhangsan", accept)
    assert r["outcome"] == "ok" and "接单成功" in r["replies"][0]["text"]
    told = [i["text"] for i in await sent_to(client, "resident") if i["proactive"]]
    assert any("张师傅 接单" in t and "13800000001" in t for t in told)
    other = [i for i in await sent_to(client, "zhaoliu") if i.get("card")]
    assert other[-1]["card"]["buttons"] == [] and "已被 张师傅 接单" in other[-1]["card"]["status"]
    r = await press_as(client, "zhaoliu", accept)
    assert r["outcome"] == "taken" and "已被 张师傅 接单" in r["replies"][0]["text"]
    t = await sim.ticket(number)
    assert t["status"] == "accepted" and t["assignee"]["name"] == "张师傅" and t["accepted_at"]
    assert [e["action"] for e in t["events"]].count("accepted") == 1


async def test_refusals_are_clear(client, sim):
    number = await report(sim)
    accept = CardAction("accept", number).encode()
    assert (await press_as(client, "lisi", accept))["outcome"] == "not_your_trade"
    assert (await press_as(client, "resident", accept))["outcome"] == "unknown_person"
    assert (await press_as(client, "zhangsan", "rb1|accept|BX20000101-0001"))["outcome"] == "unknown_ticket"
    assert (await press_as(client, "zhangsan", "garbage"))["outcome"] == "unknown_ticket"
    t = await sim.ticket(number)
    assert t["status"] == "dispatched" and t["assignee"] is None


async def test_a_cancelled_ticket_cannot_be_accepted(client, sim):
    from sqlalchemy import update

    from store.models import Ticket
    number = await report(sim)
    async with services_of(client.app).sessions() as s, s.begin():
        await s.execute(update(Ticket).where(Ticket.number == number).values(status="cancelled"))
    r = await press_as(client, "zhangsan", CardAction("accept", number).encode())
    assert r["outcome"] == "closed" and "已结束" in r["replies"][0]["text"]


async def test_transfer_and_decline_reach_the_supervisor(client, sim):
    number = await report(sim)
    assert (await press_as(client, "zhangsan", CardAction("transfer", number).encode()))["outcome"] == "ok"
    assert (await press_as(client, "zhaoliu", CardAction("decline", number).encode()))["outcome"] == "ok"
    texts = [i["text"] for i in await sent_to(client, "wangzhuguan")]
    assert any("张师傅 申请转派" in t for t in texts) and any("赵师傅 表示无法处理" in t for t in texts)
    actions = [e["action"] for e in (await sim.ticket(number))["events"]]
    assert "transfer_requested" in actions and "declined" in actions


async def test_twenty_technicians_pressing_at_once_across_instances(aiohttp_client, make_settings, clock, backend):
    """20 concurrent accepts on one ticket, over three app instances sharing the stores: one winner."""
    staff = [{"name": f"师傅{i}", "role": "technician", "trades": ["plumbing"], "sim_user": f"t{i}",
              "phone": f"1380000{i:04d}"} for i in range(20)]
    settings = make_settings(staff=staff)
    apps = [create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix) for _ in range(3)]
    clients = [await aiohttp_client(a) for a in apps]
    resp = await clients[0].post("/api/v1/tickets", headers=auth(), json={
        "description": "水管爆了", "location": "3栋2单元1502", "reporter_name": "王女士", "phone": "13812345678"})
    number = (await resp.json())["number"]
    payload = CardAction("accept", number).encode()
    results = await asyncio.gather(*(
        services_of(apps[i % 3]).card_actions.press(ButtonPress("sim", f"t{i}", f"t{i}", payload)) for i in range(20)))
    outcomes = [r.outcome for r, _ in results]
    assert outcomes.count("ok") == 1 and outcomes.count("taken") == 19
    winner = next(r.holder for r, _ in results if r.outcome == "ok")
    assert {r.holder for r, _ in results} == {winner}  # the losers are told who has it
    t = await (await clients[1].get(f"/api/v1/tickets/{number}", headers=auth())).json()
    assert t["assignee"]["name"] == winner
    assert [e["action"] for e in t["events"]].count("accepted") == 1


def test_payload_codec_is_versioned_and_strict():
    a = CardAction("accept", "BX20261129-0001")
    assert decode(a.encode()) == a
    for raw in ("", None, "rb2|accept|BX20261129-0001", "rb1|delete|BX20261129-0001", "rb1|accept|1; DROP"):
        assert decode(raw) is None


async def test_group_card_masks_the_phone(client, sim):
    from dispatch.ticket_card import ticket_card
    from dispatch.tickets import get_ticket
    from templates.texts import mask_phone
    number = await report(sim)
    async with services_of(client.app).sessions() as s:
        t = await get_ticket(s, number)
        texts = services_of(client.app).texts
        group = ticket_card(t, "group", texts).as_text()
        tech = ticket_card(t, "technician", texts).as_text()
    assert "139****5678" in group and "13912345678" not in group
    assert "13912345678" in tech
    assert mask_phone("13800138000") == "138****8000"



async def test_with_no_technician_for_the_trade_the_supervisors_are_told(aiohttp_client, make_settings, clock, backend):
    """A ticket nobody can take still goes out: the supervisors of its trade hear of it (BR-8)."""
    from sqlalchemy import select

    from bot.app import create_app
    from bot.runtime import run_pending
    from store.models import Outbox

    staff = [{"name": "王主管", "role": "supervisor", "trades": [], "sim_user": "boss", "phone": "13800000009"},
             {"name": "孙主管", "role": "supervisor", "trades": ["electrical"], "sim_user": "sparks",
              "phone": "13800000008"},
             {"name": "李师傅", "role": "technician", "trades": ["electrical"], "sim_user": "lisi",
              "phone": "13800000003"}]
    app = create_app(make_settings(staff=staff), clock=clock, run_background=False, redis_prefix=backend.prefix)
    client = await aiohttp_client(app)
    number = await report(Sim(client))  # a plumbing fault: no plumber among the staff
    async with services_of(app).sessions() as s:
        rows = (await s.execute(select(Outbox))).scalars().all()
    told = [r for r in rows if r.kind == "text" and r.payload.get("template") == "notify/no_technician.j2"]
    assert [(r.recipient, r.dedupe_key) for r in told] == [
        ("user:boss", f"{number}:notify/no_technician.j2:sim:boss:1:")]  # not the electrical supervisor
    assert [r for r in rows if r.kind == "card"] == []
    await run_pending(services_of(app))
    assert any(number in i["text"] and "没有可派的维修人员" in i["text"] for i in await sent_to(client, "boss"))
    t = await (await client.get(f"/api/v1/tickets/{number}", headers=auth())).json()
    assert t["status"] == "submitted" and [e["action"] for e in t["events"]] == ["created"]


async def test_dispatch_writes_one_card_per_technician_and_the_dispatched_event(client, sim):
    from sqlalchemy import select

    from store.models import Outbox
    number = await report(sim)
    async with services_of(client.app).sessions() as s:
        rows = (await s.execute(select(Outbox).where(Outbox.kind == "card"))).scalars().all()
    assert sorted((r.recipient, r.dedupe_key, r.payload["audience"]) for r in rows) == [
        ("user:zhangsan", f"{number}:dispatch:sim:user:zhangsan", "technician"),
        ("user:zhaoliu", f"{number}:dispatch:sim:user:zhaoliu", "technician")]
    t = await sim.ticket(number)
    assert t["status"] == "dispatched" and t["dispatched_at"]
    assert [(e["action"], e["from_status"], e["to_status"]) for e in t["events"]] == [
        ("created", None, "submitted"), ("dispatched", "submitted", "dispatched")]
    assert t["events"][1]["details"] == {"technicians": ["张师傅", "赵师傅"]}
