"""The job after 接单 (BR-10 to BR-21) at the domain: every action through `dispatch.actions.act`, the
transition table deciding, one audit event per change, refusals changing nothing."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.app import create_app
from bot.services import services_of
from dispatch.actions import act
from dispatch.tickets import get_ticket
from tests.conftest import Sim

STAFF = [
    {"name": "张师傅", "role": "technician", "trades": ["plumbing"], "phone": "13800000001", "sim_user": "zhangsan"},
    {"name": "赵师傅", "role": "technician", "trades": ["plumbing"], "phone": "13800000002", "sim_user": "zhaoliu"},
    {"name": "李师傅", "role": "technician", "trades": ["electrical"], "phone": "13800000003", "sim_user": "lisi"},
    {"name": "王主管", "role": "supervisor", "trades": [], "phone": "13800000009", "sim_user": "wangzhuguan"},
    {"name": "陈总监", "role": "director", "phone": "13800000011", "sim_user": "chenzongjian"},
    {"name": "刘总", "role": "leadership", "phone": "13800000012", "sim_user": "liuzong"},
    {"name": "孙管家", "role": "housekeeper", "phone": "13800000013", "sim_user": "sunguanjia"},
]
TRADES = [{"key": "plumbing", "name": "水"}, {"key": "electrical", "name": "电"}]
PRICES = [{"key": "tap", "name": "更换水龙头", "amount": "80"}, {"key": "trap", "name": "更换存水弯", "amount": "650"}]


@pytest.fixture
async def job(aiohttp_client, make_settings, clock, backend):
    settings = make_settings(staff=STAFF, trades=TRADES, prices=PRICES,
                             materials=[{"key": "tape", "name": "生料带", "unit": "卷"}])
    client = await aiohttp_client(create_app(settings, clock=clock, run_background=False,
                                             redis_prefix=backend.prefix))
    return Job(client, clock)


class Job:
    def __init__(self, client, clock) -> None:
        self.client, self.clock, self.sim = client, clock, Sim(client)
        self.services = services_of(client.app)

    async def report(self, text: str = "3栋2单元1502厨房水龙头漏水", user: str = "resident") -> str:
        for line in (text, "刘女士 13912345678", "确认"):
            replies = await self.sim.say(user, line)
        return replies[0].split("单号 ")[1].split()[0]

    async def act(self, number: str, action: str, user: str, body: dict | None = None, channel: str = "sim"):
        async with self.services.sessions() as session, session.begin():
            result = await act(session, number, action, channel, user, self.clock.now(), body,
                               policy=self.services.policy)
            return result.outcome, result.detail

    async def ticket(self, number: str):
        return await self.sim.ticket(number)

    async def accepted(self, text: str = "3栋2单元1502厨房水龙头漏水") -> str:
        number = await self.report(text)
        assert await self.act(number, "accept", "zhangsan") == ("ok", "")
        return number

    async def on_site(self, text: str = "3栋2单元1502厨房水龙头漏水") -> str:
        number = await self.accepted(text)
        assert await self.act(number, "arrive", "zhangsan") == ("ok", "")
        return number


def actions_of(ticket: dict) -> list[str]:
    return [e["action"] for e in ticket["events"]]


async def test_free_unit_repair_arrive_then_complete(job):
    number = await job.on_site()
    t = await job.ticket(number)
    assert t["status"] == "on_site" and t["arrived_at"]
    outcome = await job.act(number, "complete", "zhangsan",
                            {"materials": [{"key": "tape", "qty": 1}], "minutes": 25, "note": "换了阀芯"})
    assert outcome == ("ok", "")
    t = await job.ticket(number)
    assert t["status"] == "completed" and t["completed_at"]
    assert actions_of(t)[-3:] == ["accepted", "arrived", "completed"]
    async with job.services.sessions() as session:
        row = await get_ticket(session, number)
        assert row.materials == [{"name": "生料带", "qty": 1}] and row.work_minutes == 25
        assert row.awaiting == "signoff"   # BR-21: the resident is asked 已修好 / 没修好
        assert row.signoff_due_at == job.clock.now() + timedelta(seconds=86400)


async def test_complete_without_arrival_is_refused_and_changes_nothing(job):
    number = await job.accepted()
    before = await job.ticket(number)
    assert await job.act(number, "complete", "zhangsan") == ("bad_state", "accepted")
    after = await job.ticket(number)
    assert after["status"] == "accepted" and after["events"] == before["events"]


async def test_paid_repair_cannot_be_completed_before_the_quote_is_agreed(job):
    number = await job.on_site()
    assert await job.act(number, "quote", "zhangsan", {"items": [{"key": "tap"}, {"name": "人工", "amount": 30}]}) \
        == ("ok", "")
    async with job.services.sessions() as session:
        row = await get_ticket(session, number)
        assert row.status == "quoted" and str(row.quote) == "110.00" and row.quote_status == "pending"
        assert row.awaiting == "quote"
    # BR-13: work starts only after the resident agrees
    assert await job.act(number, "complete", "zhangsan") == ("bad_state", "quoted")
    assert (await job.ticket(number))["status"] == "quoted"


@pytest.mark.parametrize("body, field", [
    ({}, "items"), ({"items": []}, "items"), ({"items": [{"name": "x", "amount": -5}]}, "items"),
    ({"items": [{"key": "nope"}]}, "items"), ({"items": [{"name": "x", "amount": "abc"}]}, "items"),
])
async def test_a_bad_quote_is_refused_with_its_field(job, body, field):
    number = await job.on_site()
    assert await job.act(number, "quote", "zhangsan", body) == ("invalid", field)
    assert (await job.ticket(number))["status"] == "on_site"


async def test_a_public_area_ticket_is_not_quoted(job):
    number = await job.report("3栋大堂灯不亮")
    async with job.services.sessions() as session:
        trade = (await get_ticket(session, number)).trade
    tech = "zhangsan" if trade == "plumbing" else "lisi"
    await job.act(number, "accept", tech)
    await job.act(number, "arrive", tech)
    assert await job.act(number, "quote", tech, {"items": [{"key": "tap"}]}) == ("invalid", "area")


async def test_hold_then_resume_returns_to_where_it_was(job):
    number = await job.on_site()
    until = (job.clock.now() + timedelta(days=2)).isoformat()
    assert await job.act(number, "hold", "zhangsan", {"reason": "等厂家配件", "until": until}) == ("ok", "")
    t = await job.ticket(number)
    assert t["status"] == "on_hold"
    assert await job.act(number, "complete", "zhangsan") == ("bad_state", "on_hold")
    assert await job.act(number, "resume", "wangzhuguan") == ("ok", "")   # the supervisor may resume
    t = await job.ticket(number)
    assert t["status"] == "on_site" and actions_of(t)[-2:] == ["held", "resumed"]


async def test_hold_needs_a_reason_and_a_future_date(job):
    number = await job.on_site()
    assert await job.act(number, "hold", "zhangsan", {}) == ("invalid", "reason")
    past = (job.clock.now() - timedelta(hours=1)).isoformat()
    assert await job.act(number, "hold", "zhangsan", {"reason": "等配件", "until": past}) == ("invalid", "until")
    assert await job.act(number, "hold", "zhangsan", {"reason": "等配件", "until": "next week"}) == ("invalid", "until")


@pytest.mark.parametrize("amount, approver, other", [("300", "chenzongjian", "liuzong"),
                                                     ("650", "liuzong", "chenzongjian")])
async def test_waiver_goes_to_the_approver_the_amount_names(job, amount, approver, other):
    """BR-15: under 500 元 the property director, 500 元 or more company leadership."""
    number = await job.on_site()
    await job.act(number, "quote", "zhangsan", {"items": [{"name": "更换管件", "amount": amount}]})
    assert await job.act(number, "waive", "zhangsan", {"payer": "property", "reason": "管道老化，自然损耗"}) == ("ok", "")
    assert await job.act(number, "waive_approve", other) == ("not_allowed", "")
    assert await job.act(number, "waive_approve", approver, {"note": "同意"}) == ("ok", "")
    async with job.services.sessions() as session:
        row = await get_ticket(session, number)
        assert row.waiver["status"] == "approved" and row.waiver["payer"] == "property"
        assert row.fee == 0 and row.status == "quote_accepted"   # nothing left for the resident to agree
    assert await job.act(number, "complete", "zhangsan") == ("ok", "")


async def test_waiver_rejected_leaves_the_quote_to_the_resident(job):
    number = await job.on_site()
    await job.act(number, "quote", "zhangsan", {"items": [{"name": "更换管件", "amount": 120}]})
    await job.act(number, "waive", "zhangsan", {"reason": "业主说是老化"})
    assert await job.act(number, "waive_reject", "chenzongjian", {"note": "人为损坏"}) == ("ok", "")
    async with job.services.sessions() as session:
        row = await get_ticket(session, number)
        assert row.waiver["status"] == "rejected" and row.status == "quoted" and str(row.fee) == "120.00"
    assert await job.act(number, "waive_reject", "chenzongjian") == ("invalid", "waiver")  # nothing pending


async def test_transfer_to_a_colleague_makes_the_old_card_stale(job):
    number = await job.accepted()
    assert await job.act(number, "transfer", "zhangsan", {"to": "赵师傅"}) == ("ok", "")
    t = await job.ticket(number)
    assert t["assignee"]["name"] == "赵师傅" and t["status"] == "accepted"
    # 张师傅's card from before the transfer: his press is refused and changes nothing
    assert await job.act(number, "arrive", "zhangsan") == ("not_allowed", "")
    assert await job.act(number, "arrive", "zhaoliu") == ("ok", "")


async def test_transfer_back_to_the_trade_opens_it_again(job):
    number = await job.accepted()
    assert await job.act(number, "transfer", "zhangsan") == ("ok", "")
    t = await job.ticket(number)
    assert t["status"] == "dispatched" and t["assignee"] is None
    assert await job.act(number, "accept", "zhaoliu") == ("ok", "")


async def test_reassign_by_the_supervisor_only(job):
    number = await job.accepted()
    assert await job.act(number, "reassign", "zhangsan", {"to": "赵师傅"}) == ("not_allowed", "")
    assert await job.act(number, "reassign", "wangzhuguan", {"to": "nobody"}) == ("invalid", "to")
    assert await job.act(number, "reassign", "wangzhuguan", {"to": "13800000002"}) == ("ok", "")
    assert (await job.ticket(number))["assignee"]["name"] == "赵师傅"


async def test_two_complete_presses_at_once_one_wins(job):
    number = await job.on_site()
    results = await asyncio.gather(*(job.act(number, "complete", "zhangsan") for _ in range(2)))
    assert sorted(r[0] for r in results) == ["closed", "ok"]
    assert actions_of(await job.ticket(number)).count("completed") == 1


async def test_public_area_verification_and_rework(job):
    number = await job.report("3栋大堂水管漏水")
    await job.act(number, "accept", "zhangsan")
    await job.act(number, "arrive", "zhangsan")
    await job.act(number, "complete", "zhangsan")
    assert await job.act(number, "verify", "zhangsan") == ("not_allowed", "")
    assert await job.act(number, "verify", "sunguanjia", {"passed": False, "note": "还在滴水"}) == ("ok", "")
    t = await job.ticket(number)
    assert t["status"] == "rework" and t["assignee"]["name"] == "张师傅"
    await job.act(number, "arrive", "zhangsan")
    await job.act(number, "complete", "zhangsan")
    assert await job.act(number, "verify", "sunguanjia") == ("ok", "")
    assert (await job.ticket(number))["status"] == "verified"


async def test_reschedule_proposes_a_time_the_resident_must_confirm(job):
    number = await job.accepted()
    assert await job.act(number, "reschedule", "zhangsan", {}) == ("invalid", "visit_text")
    assert await job.act(number, "reschedule", "zhangsan", {"visit_text": "明天上午10点"}) == ("ok", "")
    async with job.services.sessions() as session:
        row = await get_ticket(session, number)
        assert row.proposed_visit_text == "明天上午10点" and row.awaiting == "visit" and row.status == "accepted"


async def test_cancel_needs_a_reason_and_ends_the_ticket(job):
    number = await job.accepted()
    assert await job.act(number, "cancel", "sunguanjia") == ("invalid", "reason")
    assert await job.act(number, "cancel", "sunguanjia", {"reason": "业主已自行修好"}) == ("ok", "")
    assert (await job.ticket(number))["status"] == "cancelled"
    assert await job.act(number, "arrive", "zhangsan") == ("closed", "cancelled")


async def test_every_change_is_one_event_with_who_and_channel(job):
    number = await job.on_site()
    t = await job.ticket(number)
    arrived = [e for e in t["events"] if e["action"] == "arrived"]
    assert len(arrived) == 1
    assert arrived[0]["actor"] == "sim:zhangsan" and arrived[0]["channel"] == "sim"
    assert arrived[0]["from_status"] == "accepted" and arrived[0]["to_status"] == "on_site"


async def test_a_waiver_names_who_pays_as_br16_does(job):
    """BR-16: the property company or the owner bears a waived fee; anything else is refused."""
    number = await job.on_site()
    await job.act(number, "quote", "zhangsan", {"items": [{"name": "更换管件", "amount": 120}]})
    assert await job.act(number, "waive", "zhangsan", {"payer": "邻居", "reason": "楼上漏水"}) == ("invalid", "payer")
    assert await job.act(number, "waive", "zhangsan", {"payer": "owner", "reason": "业主承担"}) == ("ok", "")
