"""Who may do what (contract.md Lifecycle "who"): the role × action table, row by row, through the REST API."""
from __future__ import annotations

import typing

import pytest

from bot.app import create_app
from bot.settings import StaffSettings
from dispatch import permissions
from dispatch.lifecycle import STAFF_ACTIONS
from dispatch.payloads import CardAction
from tests.conftest import auth

T, A, AL, Y = "trade", "assignee", "alerted", "any"
# The contract's "who" column, as decided for each role (README "Roles and permissions"); None: never.
EXPECTED = {
    #                technician supervisor manager director leadership desk control housekeeper finance
    "accept":        (T,    None, None, None, None, None, None, None, None),
    "transfer":      (T,    T,    None, None, None, None, None, None, None),
    "decline":       (T,    None, None, None, None, None, None, None, None),
    "arrive":        (A,    None, None, None, None, None, None, None, None),
    "reschedule":    (A,    None, None, None, None, None, None, None, None),
    "quote":         (A,    None, None, None, None, None, None, None, None),
    "hold":          (A,    None, None, None, None, None, None, None, None),
    "resume":        (A,    T,    None, None, None, None, None, None, None),
    "complete":      (A,    None, None, None, None, None, None, None, None),
    "waive_approve": (None, None, None, Y,    Y,    None, None, None, None),
    "waive_reject":  (None, None, None, Y,    Y,    None, None, None, None),
    "ack":           (AL,   AL,   AL,   AL,   AL,   AL,   AL,   AL,   None),
    "reassign":      (None, T,    Y,    Y,    Y,    None, None, None, None),
    "verify":        (None, None, None, None, None, Y,    Y,    Y,    None),
    "cancel":        (None, T,    None, None, None, Y,    Y,    Y,    None),
    # Not a contract action: asking for a 签免 (BR-15) before 批准 / 驳回 can be pressed.
    "waive":         (A,    T,    None, None, None, Y,    Y,    Y,    None),
}
ROLES = ("technician", "supervisor", "manager", "director", "leadership", "desk", "control", "housekeeper", "finance")
# What a freshly dispatched ticket takes from every role the table lets (the job's later actions, each from
# the status it needs: tests/test_job_actions.py).
IMPLEMENTED = ("accept", "transfer", "decline")


def test_the_table_covers_every_role_and_every_action_of_the_contract():
    assert permissions.ROLES == ROLES
    assert set(typing.get_args(StaffSettings.model_fields["role"].annotation)) == set(ROLES)
    assert permissions.ACTIONS == tuple(EXPECTED)
    assert set(STAFF_ACTIONS) <= set(permissions.ACTIONS)


@pytest.mark.parametrize("action", list(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
def test_table_row(role, action):
    assert permissions.scope(role, action) == EXPECTED[action][ROLES.index(role)]


@pytest.mark.parametrize("role", ["resident", "former", "nobody"])
def test_who_is_not_staff_may_do_nothing(role):
    assert not permissions.is_staff(role)
    assert all(permissions.refusal(role, a, trades=["plumbing"], ticket_trade="plumbing", is_assignee=True)
               == "not_allowed" for a in permissions.ACTIONS)


def test_reach_of_a_permission():
    r = permissions.refusal
    assert r("technician", "accept", trades=["electrical"], ticket_trade="plumbing", is_assignee=False) == \
        "not_your_trade"
    assert r("technician", "accept", trades=[], ticket_trade="plumbing", is_assignee=False) == "not_your_trade"
    assert r("supervisor", "reassign", trades=[], ticket_trade="plumbing", is_assignee=False) is None  # all trades
    assert r("supervisor", "reassign", trades=["fire"], ticket_trade="plumbing", is_assignee=False) == \
        "not_your_trade"
    assert r("technician", "complete", trades=["plumbing"], ticket_trade="plumbing", is_assignee=False) == \
        "not_allowed"
    assert r("technician", "complete", trades=["plumbing"], ticket_trade="plumbing", is_assignee=True) is None
    assert r("manager", "reassign", trades=["fire"], ticket_trade="plumbing", is_assignee=False) is None


# One member of staff per role, every one of them on the plumbing trade where a trade applies.
STAFF = [{"name": f"{role}-person", "role": role, "trades": ["plumbing"], "sim_user": role, "phone": f"1380000{i:04d}"}
         for i, role in enumerate(ROLES)]


@pytest.fixture
async def staffed(aiohttp_client, make_settings, clock, backend):
    app = create_app(make_settings(staff=STAFF), clock=clock, run_background=False, redis_prefix=backend.prefix)
    return await aiohttp_client(app)


async def _new_ticket(client) -> str:
    resp = await client.post("/api/v1/tickets", headers=auth(), json={
        "description": "水管爆了", "location": "3栋2单元1502", "reporter_name": "王女士", "phone": "13812345678"})
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["trade"] == "plumbing"
    return body["number"]


@pytest.mark.parametrize("action", IMPLEMENTED)
@pytest.mark.parametrize("role", ROLES)
async def test_rest_action_follows_the_table(staffed, role, action):
    """Every role × implemented action through POST /api/v1/tickets/{n}/actions/{action}."""
    number = await _new_ticket(staffed)
    before = await (await staffed.get(f"/api/v1/tickets/{number}", headers=auth())).json()
    resp = await staffed.post(f"/api/v1/tickets/{number}/actions/{action}", headers=auth(),
                              json={"actor": {"channel": "sim", "user": role}})
    body = await resp.json()
    if EXPECTED[action][ROLES.index(role)] is None:
        assert resp.status == 403, body
        assert body["error"]["code"] == "not_allowed" and action in body["error"]["message"]
        after = await (await staffed.get(f"/api/v1/tickets/{number}", headers=auth())).json()
        assert after == before  # refused: nothing changed, nothing recorded
    else:
        assert resp.status == 200 and body["outcome"] == "ok", body
        if action == "accept":
            assert body["ticket"]["assignee"]["name"] == f"{role}-person"


@pytest.mark.parametrize("role", ["finance", "desk"])
async def test_a_card_press_by_finance_or_desk_is_refused_with_a_clear_message(staffed, role):
    """The issue's finding: a finance or desk account could accept any ticket."""
    number = await _new_ticket(staffed)
    resp = await staffed.post("/sim/api/press", json={"user": role, "payload": CardAction("accept", number).encode()})
    r = await resp.json()
    assert r["outcome"] == "not_allowed" and "不能对此单执行「接单」" in r["replies"][0]["text"]
    t = await (await staffed.get(f"/api/v1/tickets/{number}", headers=auth())).json()
    assert t["status"] == "dispatched" and t["assignee"] is None


async def test_a_supervisor_of_another_trade_may_not_transfer(aiohttp_client, make_settings, clock, backend):
    staff = [{"name": "孙主管", "role": "supervisor", "trades": ["electrical"], "sim_user": "sparks"},
             {"name": "王主管", "role": "supervisor", "trades": [], "sim_user": "boss"}]
    client = await aiohttp_client(create_app(make_settings(staff=staff), clock=clock, run_background=False,
                                             redis_prefix=backend.prefix))
    number = await _new_ticket(client)
    url = f"/api/v1/tickets/{number}/actions/transfer"
    resp = await client.post(url, headers=auth(), json={"actor": {"channel": "sim", "user": "sparks"}})
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "not_your_trade"
    resp = await client.post(url, headers=auth(), json={"actor": {"channel": "sim", "user": "boss"}})
    assert resp.status == 200  # a supervisor with no trades oversees them all


def test_readme_shows_the_table_as_the_code_has_it():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert permissions.markdown_table() in readme
