"""Warranty repairs (保修, BR-24): the same place and trade within 90 days of a finished job is free, linked
to it, and offered first to the technician who did it; after 90 days it is an ordinary ticket."""
from __future__ import annotations

from tests.aftercare_steps import (  # noqa: F401
    DESK, HOUR, act, advance, client, complete, file, leave_trade, report, sent_to, sim, ticket, verify,
)
from tests.conftest import auth

AGAIN = ["9栋2单元301马桶又堵了", "刘女士 13912345678", "确认"]
DAY = 24 * HOUR


async def cards_to(client, user: str) -> list[dict]:
    items = (await (await client.get("/sim/api/sent", params={"user": user})).json())["sent"]
    return [i for i in items if i.get("card")]


async def test_the_same_fault_within_90_days_is_a_free_repair_offered_to_the_first_technician(client, sim):
    first = await report(sim)
    await complete(client, first, "zhangsan")
    await verify(client, first)
    await advance(client, 30 * DAY)
    cards_before = {u: len(await cards_to(client, u)) for u in ("zhangsan", "zhaoliu")}
    replies = []
    for text in AGAIN:
        replies = await sim.say("resident", text)
    second = replies[0].split("单号 ")[1].split()[0]
    assert "保修期内" in replies[0] and first in replies[0] and "免费" in replies[0]
    t = await ticket(client, second)
    assert t["warranty_of"] == first and t["fee"] == "0.00"
    [event] = [e for e in t["events"] if e["action"] == "warranty"]
    assert event["details"] == {"of": first, "technician": "张师傅"}
    [card] = (await cards_to(client, "zhangsan"))[cards_before["zhangsan"]:]
    assert second in card["text"] and "保修" in card["card"]["title"] and card["card"]["buttons"]
    assert len(await cards_to(client, "zhaoliu")) == cards_before["zhaoliu"]   # offered to 张师傅 alone
    told = [x for x in await sent_to(client, "wangzhuguan") if second in x]
    assert len(told) == 1 and first in told[0] and "张师傅" in told[0]


async def test_after_90_days_it_is_an_ordinary_ticket(client, sim):
    first = await report(sim)
    await complete(client, first, "zhangsan")
    await verify(client, first)
    await advance(client, 91 * DAY)
    second = await report(sim, lines=AGAIN)
    t = await ticket(client, second)
    assert t["warranty_of"] is None and t["fee"] is None
    assert "warranty" not in [e["action"] for e in t["events"]]
    for tech in ("zhangsan", "zhaoliu"):
        assert any(second in c["text"] for c in await cards_to(client, tech))


async def test_another_trade_at_the_same_place_carries_no_warranty(client, sim):
    lamp = await report(sim, lines=["9栋2单元301卧室灯不亮了", "刘女士 13912345678", "确认"])
    await complete(client, lamp, "lisi")
    await verify(client, lamp)
    await advance(client, DAY)
    toilet = await report(sim)
    assert (await ticket(client, toilet))["warranty_of"] is None


async def test_a_job_never_finished_carries_no_warranty(client, sim):
    first = await report(sim)
    assert await act(client, first, "cancel", DESK, {"reason": "业主自行修好"}) == "ok"
    await advance(client, DAY)
    second = await report(sim, lines=AGAIN)
    assert second != first and (await ticket(client, second))["warranty_of"] is None


async def test_when_the_first_technician_left_the_trade_everyone_gets_the_card(client, sim):
    first = await report(sim)
    await complete(client, first, "zhangsan")
    await verify(client, first)
    await leave_trade(client, "zhangsan", ["civil"])   # 张师傅 no longer does plumbing: he cannot be offered it
    await advance(client, 10 * DAY)
    second = await report(sim, lines=AGAIN)
    assert (await ticket(client, second))["warranty_of"] == first
    assert any(second in c["text"] for c in await cards_to(client, "zhaoliu"))
    assert not any(second in c["text"] for c in await cards_to(client, "zhangsan"))
    told = [x for x in await sent_to(client, "wangzhuguan") if second in x]
    assert len(told) == 1 and "常规" in told[0]


async def test_desk_entry_links_the_warranty_too_and_a_retry_answers_the_same(client):
    first = (await file(client, location="3栋2单元1502", area="unit", description="厨房水管漏水"))["number"]
    await complete(client, first, "zhaoliu")
    await advance(client, 89 * DAY)
    body = {"description": "厨房水管又漏水了", "location": "3栋2单元1502", "area": "unit",
            "reporter_name": "王女士", "phone": "13812345678"}
    headers = {**auth(), "Idempotency-Key": "again-1"}
    resp = await client.post("/api/v1/tickets", json=body, headers=headers)
    assert resp.status == 201, await resp.text()
    t = await resp.json()
    assert t["warranty_of"] == first and t["fee"] == "0.00"
    assert [e["action"] for e in t["events"]] == ["created", "warranty", "dispatched"]
    assert t["events"][2]["details"]["technicians"] == ["赵师傅"]
    retry = await client.post("/api/v1/tickets", json=body, headers=headers)
    assert retry.status == 201 and retry.headers.get("Idempotent-Replayed") == "true"
    assert (await retry.json())["number"] == t["number"] and (await retry.json())["warranty_of"] == first
