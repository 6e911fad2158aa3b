"""Complaints (投诉, BR-27): numbered, linked to the resident's own ticket, straight to the supervisors,
answered by staff through the REST API, the answer delivered to the resident."""
from __future__ import annotations

import pytest

from bot.app import create_app
from bot.services import services_of
from tests.aftercare_steps import HOUR, advance, client, report, sent_to, sim, ticket  # noqa: F401
from tests.conftest import Sim, auth


async def complain(client, user: str, text: str, number: str | None = None) -> str:
    """The resident's 「投诉」 as the chat hands it to the domain (conversations/answers.py); its number."""
    from dispatch.complaints import open_complaint

    services = services_of(client.app)
    async with services.sessions() as s, s.begin():
        c = await open_complaint(s, "sim", user, text, number, services.clock.now(), services.policy)
        number = c.number
    await advance(client, 0)   # deliver what it queued
    return number


async def complaints(client, **params) -> list[dict]:
    resp = await client.get("/api/v1/complaints", params=params, headers=auth())
    assert resp.status == 200, await resp.text()
    return (await resp.json())["complaints"]


async def reply(client, number: str, body: dict, key: str | None = None):
    headers = {**auth(), **({"Idempotency-Key": key} if key else {})}
    return await client.post(f"/api/v1/complaints/{number}/reply", json=body, headers=headers)


async def test_a_complaint_reaches_the_supervisor_and_the_reply_reaches_the_resident(client, sim):
    number = await report(sim)
    c = await complain(client, "resident", "师傅迟到两个小时还没到", number)
    assert c == "TS20261129-0001"
    [told] = [t for t in await sent_to(client, "wangzhuguan") if c in t]
    assert "师傅迟到两个小时还没到" in told and number in told and "13912345678" in told
    [listed] = await complaints(client, status="open")
    assert listed["ticket"] == number and listed["status"] == "open" and listed["name"] == "刘女士"
    assert listed["overdue"] is False and listed["reply_due_at"] > listed["created_at"]
    events = [e for e in (await ticket(client, number))["events"] if e["action"] == "complaint"]
    assert len(events) == 1 and events[0]["details"]["complaint"] == c

    resp = await reply(client, c, {"by": "王主管", "text": "非常抱歉，师傅已在路上，预计10分钟到。"}, key="r-1")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["status"] == "replied" and body["replied_at"] and body["replied_by"] == "王主管"
    await advance(client, 0)
    assert any("师傅已在路上" in t and c in t for t in await sent_to(client, "resident"))
    again = await reply(client, c, {"by": "王主管", "text": "非常抱歉，师傅已在路上，预计10分钟到。"}, key="r-1")
    assert again.status == 200 and again.headers.get("Idempotent-Replayed") == "true"
    await advance(client, 0)
    assert len([t for t in await sent_to(client, "resident") if "师傅已在路上" in t]) == 1
    second = await reply(client, c, {"by": "王主管", "text": "补充说明"})
    assert second.status == 409 and (await second.json())["error"]["code"] == "already_replied"
    assert await complaints(client, status="open") == []
    assert [x["number"] for x in await complaints(client, status="replied")] == [c]
    events = [e["action"] for e in (await ticket(client, number))["events"]]
    assert events.count("complaint_replied") == 1


async def test_a_complaint_naming_someone_elses_ticket_is_linked_to_the_residents_own(client, sim):
    mine = await report(sim, "resident")
    theirs = await report(sim, "neighbour", ["8栋1单元202厨房漏水", "陈先生 13700001111", "确认"])
    c = await complain(client, "resident", "态度不好", theirs)
    [listed] = await complaints(client)
    assert listed["number"] == c and listed["ticket"] == mine
    assert "complaint" not in [e["action"] for e in (await ticket(client, theirs))["events"]]


async def test_a_complaint_without_any_ticket_goes_to_every_supervisor_and_manager(
        aiohttp_client, make_settings, clock, backend):
    staff = [
        {"name": "张师傅", "role": "technician", "trades": ["plumbing"], "sim_user": "zhangsan"},
        {"name": "水主管", "role": "supervisor", "trades": ["plumbing"], "sim_user": "shui"},
        {"name": "电主管", "role": "supervisor", "trades": ["electrical"], "sim_user": "dian"},
        {"name": "工程经理", "role": "manager", "trades": [], "sim_user": "jingli"},
    ]
    client = await aiohttp_client(create_app(make_settings(staff=staff), clock=clock, run_background=False,
                                             redis_prefix=backend.prefix))
    c = await complain(client, "stranger", "小区门口路灯坏了好几天没人管")
    [listed] = await complaints(client)
    assert listed["ticket"] is None and listed["name"] is None
    for user in ("shui", "dian", "jingli"):
        assert any(c in t for t in await sent_to(client, user)), user
    # With a plumbing ticket: the plumbing supervisor and the manager, not the electrical one.
    number = await report(Sim(client), "resident")
    c2 = await complain(client, "resident", "修完又漏了")
    assert (await complaints(client, status="open"))[-1]["ticket"] == number
    assert any(c2 in t for t in await sent_to(client, "shui")) and any(c2 in t for t in await sent_to(client, "jingli"))
    assert not any(c2 in t for t in await sent_to(client, "dian"))


async def test_numbers_count_per_day_and_unanswered_ones_are_overdue_after_24_hours(client, sim):
    first = await complain(client, "resident", "一")
    second = await complain(client, "resident", "二")
    assert (first, second) == ("TS20261129-0001", "TS20261129-0002")
    await advance(client, 25 * HOUR)
    third = await complain(client, "resident", "三")
    assert third == "TS20261130-0001"
    overdue = {x["number"]: x["overdue"] for x in await complaints(client)}
    assert overdue == {first: True, second: True, third: False}


async def test_bad_replies_are_refused_in_json(client):
    c = await complain(client, "resident", "有问题")
    for body, code in (({"text": "好"}, "missing"), ({"by": "王主管"}, "missing"), ({"by": "王主管", "text": " "}, "missing"),
                       ({"by": "王主管", "text": 5}, "missing")):
        resp = await reply(client, c, body)
        assert resp.status == 422 and (await resp.json())["error"]["code"] == code
    resp = await reply(client, "TS20000101-0001", {"by": "王主管", "text": "好"})
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "no_complaint"
    assert (await client.get("/api/v1/complaints")).status == 401
    assert (await client.get("/api/v1/complaints", params={"status": "closed"}, headers=auth())).status == 400


async def test_a_residents_complaint_in_chat_is_answered_with_its_number(client, sim):
    """「投诉」 in chat (wired by conversations/answers.py) opens a complaint on the resident's ticket."""
    pytest.importorskip("conversations.answers", reason="the resident's chat answers are not merged yet")
    number = await report(sim)
    replies = await sim.say("resident", f"投诉 {number} 师傅一直没来")
    [listed] = await complaints(client)
    assert listed["ticket"] == number and any(listed["number"] in r for r in replies)
