"""Follow-up calls (回访, BR-25): every unit ticket, at least 60 % of all at every moment; each call recorded."""
from __future__ import annotations

from tests.aftercare_steps import client, complete, file, ticket, verify  # noqa: F401
from tests.conftest import auth

# 4 in residents' units, 11 in public places, verified in this order.
BATCH = ["unit", "public", "public", "public", "unit", "public", "public", "public", "public", "unit", "public",
         "public", "unit", "public", "public"]


async def followups(client, **params) -> dict:
    resp = await client.get("/api/v1/followups", params=params, headers=auth())
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def record(client, number: str, body: dict, key: str | None = None):
    headers = {**auth(), **({"Idempotency-Key": key} if key else {})}
    return await client.post(f"/api/v1/followups/{number}", json=body, headers=headers)


async def test_every_unit_ticket_and_at_least_60_percent_of_all_are_picked_at_every_moment(client):
    numbers = {}
    for i, area in enumerate(BATCH):
        location = f"3栋2单元{1501 + i}" if area == "unit" else f"{i + 1}号楼大堂"
        t = await file(client, location=location, area=area)
        numbers[t["number"]] = area
        await complete(client, t["number"])
        await verify(client, t["number"])
        cover = (await followups(client))["coverage"]
        assert cover["all"] >= 0.6 and cover["verified"] == i + 1
        assert cover["unit"] in (None, 1.0)
    listed = (await followups(client, status="pending"))["followups"]
    assert {f["ticket"] for f in listed if f["reason"] == "unit"} == {n for n, a in numbers.items() if a == "unit"}
    samples = [f for f in listed if f["reason"] == "sample"]
    assert all(numbers[f["ticket"]] == "public" for f in samples)
    # The fewest calls that keep the share: ceil(60 % of 15) = 9, no more than needed.
    assert len(listed) == 9 and cover == {**cover, "all": 0.6, "unit": 1.0, "picked": 9, "picked_unit": 4,
                                          "called": 0}
    first = listed[0]
    assert first["reporter"] == "王女士" and first["phone"] == "13812345678" and first["location"]
    assert first["selected_at"] and first["called_at"] is None and first["outcome"] is None
    assert (await followups(client, status="done"))["followups"] == []


async def test_recording_a_call_moves_it_to_done_with_one_event(client):
    t = await file(client)
    number = t["number"]
    await complete(client, number)
    await verify(client, number)
    body = {"by": "前台小陈", "outcome": "reached", "note": "业主表示满意"}
    resp = await record(client, number, body, key="call-1")
    assert resp.status == 200, await resp.text()
    done = await resp.json()
    assert done["outcome"] == "reached" and done["called_by"] == "前台小陈" and done["called_at"]
    again = await record(client, number, body, key="call-1")   # a retried request: nothing twice
    assert again.status == 200 and again.headers.get("Idempotent-Replayed") == "true"
    events = [e for e in (await ticket(client, number))["events"] if e["action"] == "followup_called"]
    assert len(events) == 1 and events[0]["details"]["outcome"] == "reached"
    assert events[0]["details"]["note"] == "业主表示满意"
    assert (await followups(client, status="pending"))["followups"] == []
    [listed] = (await followups(client, status="done"))["followups"]
    assert listed["ticket"] == number and listed["note"] == "业主表示满意"
    assert (await followups(client))["coverage"]["called"] == 1


async def test_nobody_answered_then_a_second_call_reaches_them(client):
    number = (await file(client))["number"]
    await complete(client, number)
    await verify(client, number)
    assert (await record(client, number, {"by": "前台小陈", "outcome": "unreachable"})).status == 200
    assert (await record(client, number, {"by": "前台小陈", "outcome": "reached"})).status == 200
    [listed] = (await followups(client, status="done"))["followups"]
    assert listed["outcome"] == "reached"
    outcomes = [e["details"]["outcome"] for e in (await ticket(client, number))["events"]
                if e["action"] == "followup_called"]
    assert outcomes == ["unreachable", "reached"]


async def test_bad_calls_are_refused_in_json(client):
    number = (await file(client))["number"]
    await complete(client, number)
    await verify(client, number)
    public = (await file(client, location="5号楼大堂", area="public"))["number"]
    for body, status, code in (
        ({"outcome": "reached"}, 422, "missing"),
        ({"by": "小陈"}, 422, "missing"),
        ({"by": "小陈", "outcome": "maybe"}, 422, "invalid"),
        ({"by": "小陈", "outcome": "reached", "note": 5}, 422, "invalid"),
    ):
        resp = await record(client, number, body)
        assert resp.status == status and (await resp.json())["error"]["code"] == code
    resp = await record(client, public, {"by": "小陈", "outcome": "reached"})   # not verified, not picked
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "no_followup"
    resp = await record(client, "BX20000101-0001", {"by": "小陈", "outcome": "reached"})
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"
    resp = await record(client, number, {"by": "小陈", "outcome": "reached"}, key="k1")
    assert resp.status == 200
    resp = await record(client, public, {"by": "小陈", "outcome": "reached"}, key="k1")
    assert resp.status in (404, 422)
    assert (await client.get("/api/v1/followups")).status == 401
    assert (await client.get("/api/v1/followups", params={"status": "later"}, headers=auth())).status == 400
