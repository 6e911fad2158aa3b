"""The REST API from the outside: bearer tokens, JSON errors, filters, staff entry (代录, BR-1)."""
from __future__ import annotations

import pytest

from tests.conftest import auth

GOOD = {"description": "B座12层男卫水龙头一直滴水", "location": "B座12层男卫", "reporter_name": "前台小刘",
        "phone": "13800001111", "entered_by": "desk-liu"}


async def test_requests_without_a_valid_token_are_refused(client):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dGVzdA=="}):
        resp = await client.get("/api/v1/tickets", headers=headers)
        assert resp.status == 401
        body = await resp.json()
        assert body["error"]["code"] == "unauthorized" and body["error"]["message"]


async def test_staff_entry_creates_the_same_ticket_as_chat(client):
    resp = await client.post("/api/v1/tickets", json=GOOD, headers=auth())
    assert resp.status == 201, await resp.text()
    t = await resp.json()
    assert t["number"] == "BX20261129-0001" and t["channel"] == "api"
    assert (t["area"], t["trade"], t["category"]) == ("public", "plumbing", "daily")
    assert t["events"][0]["actor"] == "api:desk-liu" and t["events"][0]["action"] == "created"


@pytest.mark.parametrize("change, field, code", [
    ({"phone": "12345"}, "phone", "invalid"),
    ({"phone": None}, "phone", "missing"),
    ({"location": "家里"}, "location", "invalid"),
    ({"description": ""}, "description", "missing"),
    ({"area": "garden"}, "area", "invalid"),
    ({"trade": "gas"}, "trade", "invalid"),
])
async def test_staff_entry_validates_like_the_chat(client, change, field, code):
    resp = await client.post("/api/v1/tickets", json={**GOOD, **change}, headers=auth())
    assert resp.status == 422
    err = (await resp.json())["error"]
    assert {"field": field, "code": code} in err["fields"]
    listed = await client.get("/api/v1/tickets", headers=auth())
    assert (await listed.json())["total"] == 0


@pytest.mark.parametrize("body", [b"{not json", b"[1,2]", b"\xff\xfe"])
async def test_malformed_json_gets_a_json_error(client, body):
    resp = await client.post("/api/v1/tickets", data=body, headers={**auth(), "Content-Type": "application/json"})
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "bad_json"


async def test_filters_and_pagination(client, clock):
    await client.post("/api/v1/tickets", json=GOOD, headers=auth())
    clock.advance(hours=1)
    await client.post("/api/v1/tickets", json={**GOOD, "description": "电梯困人", "location": "3号楼电梯"},
                      headers=auth())
    async def numbers(**params):
        resp = await client.get("/api/v1/tickets", params=params, headers=auth())
        assert resp.status == 200
        return [t["number"] for t in (await resp.json())["tickets"]]
    assert await numbers() == ["BX20261129-0002", "BX20261129-0001"]
    assert await numbers(trade="elevator") == ["BX20261129-0002"]
    assert await numbers(since="2026-11-29T10:30:00+08:00") == ["BX20261129-0002"]
    assert await numbers(until="2026-11-29T10:30:00+08:00") == ["BX20261129-0001"]
    assert await numbers(status="closed") == []
    assert await numbers(page="2") == []
    for bad in ({"status": "nope"}, {"since": "yesterday"}, {"page": "0"}):
        resp = await client.get("/api/v1/tickets", params=bad, headers=auth())
        assert resp.status == 400 and (await resp.json())["error"]["code"] == "bad_query"


async def test_unknown_ticket_is_a_json_404(client):
    resp = await client.get("/api/v1/tickets/BX20260101-0001", headers=auth())
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"


async def test_emergency_staff_entry_is_stamped(client):
    resp = await client.post("/api/v1/tickets", json={**GOOD, "description": "配电箱冒烟", "location": "B座8楼", "area": "public"},
                             headers=auth())
    t = await resp.json()
    assert t["category"] == "emergency" and t["trade"] == "electrical"  # BR-5


async def test_health_and_readiness(client):
    assert (await client.get("/healthz")).status == 200
    resp = await client.get("/readyz")
    assert resp.status == 200 and (await resp.json())["checks"] == {"database": "ok", "state": "ok"}
    metrics = await (await client.get("/metrics")).text()
    assert "repairbot_conversation_steps_total" in metrics


async def test_actions_endpoint_runs_the_same_domain_action(client):
    resp = await client.post("/api/v1/tickets", json={**GOOD, "description": "马桶堵了", "location": "9栋2单元301"},
                             headers=auth())
    number = (await resp.json())["number"]
    url = f"/api/v1/tickets/{number}/actions/accept"
    resp = await client.post(url, json={"actor": {"channel": "sim", "user": "zhangsan"}}, headers=auth())
    body = await resp.json()
    assert resp.status == 200 and body["outcome"] == "ok" and body["ticket"]["assignee"]["name"] == "张师傅"
    resp = await client.post(url, json={"actor": {"channel": "sim", "user": "zhaoliu"}}, headers=auth())
    assert resp.status == 409 and (await resp.json())["outcome"] == "taken"
    resp = await client.post(url, json={}, headers=auth())
    assert resp.status == 422
    resp = await client.post(f"/api/v1/tickets/{number}/actions/explode", json={}, headers=auth())
    assert resp.status == 404
