"""What each role sees in the console, as the configuration names the role now: a technician their own jobs,
finance the fees, a full phone number only those who call the resident (BR-6: each audience its own view)."""
from __future__ import annotations

import re

from dispatch.roster import sync_configuration
from store.models import Person
from tests.console_steps import PASSWORD, STAFF, TRADES, Desk, desk  # noqa: F401 — the fixture

from sqlalchemy import select


async def two_plumbing_jobs(desk: Desk) -> tuple[str, str]:
    mine = await desk.report("3栋2单元1502厨房水龙头漏水", user="r1", who="刘女士 13912345678")
    theirs = await desk.report("5栋1单元301卫生间下水道堵了", user="r2", who="陈先生 13700001111")
    assert await desk.act(mine, "accept", "zhangsan") == "ok"
    assert await desk.act(theirs, "accept", "zhaoliu") == "ok"
    return mine, theirs


async def person_id(desk: Desk, name: str) -> int:
    async with desk.services.sessions() as session:
        return (await session.execute(select(Person.id).where(Person.name == name))).scalar_one()


async def test_a_technician_sees_their_own_jobs_only(desk: Desk):
    mine, theirs = await two_plumbing_jobs(desk)
    unassigned = await desk.report("2栋101阳台水管滴水", user="r3", who="孙女士 13600002222")
    tech = await desk.signed_in("13800000001")
    assert "我的工单" in tech.html and mine in tech.html
    assert theirs not in tech.html and unassigned not in tech.html
    # Asking the list for someone else's jobs still shows only one's own.
    await tech.get(f"/admin/tickets?assignee={await person_id(desk, '赵师傅')}")
    assert mine in tech.html and theirs not in tech.html
    await tech.get("/admin/tickets?assignee=none")
    assert unassigned not in tech.html
    # Another's ticket reads as one that does not exist; so does its print view and its actions.
    status, html = await tech.get(f"/admin/tickets/{theirs}")
    assert status == 404 and "13700001111" not in html and "下水道" not in html
    assert (await tech.get(f"/admin/tickets/{theirs}/print"))[0] == 404
    await tech.get(f"/admin/tickets/{mine}")
    status, _ = await tech.post(f"/admin/tickets/{theirs}/actions/arrive", {"form": "abcdefgh12345"})
    assert status == 404
    assert (await desk.sim.ticket(theirs))["status"] == "accepted"


async def test_a_technician_acts_on_their_own_job_from_the_console(desk: Desk):
    mine, _ = await two_plumbing_jobs(desk)
    tech = await desk.signed_in("13800000001")
    await tech.get(f"/admin/tickets/{mine}")
    assert tech.offers("arrive") and not tech.offers("reassign") and not tech.offers("cancel")
    assert "13912345678" in tech.html                    # BR-11: the technician on the job calls the resident
    await tech.post(f"/admin/tickets/{mine}/actions/arrive", form_of="arrive")
    assert "已执行「已到达」" in tech.text()
    assert (await desk.sim.ticket(mine))["status"] == "on_site"


async def test_a_technician_has_no_finance_desk_or_undelivered_pages(desk: Desk):
    tech = await desk.signed_in("13800000001")
    for path in ("/admin/fees", "/admin/entry", "/admin/undelivered"):
        status, html = await tech.get(path)
        assert status == 403 and "岗位" in html, path
        assert f'href="{path}"' not in html
    status, _ = await tech.post("/admin/entry", {"description": "x"})
    assert status == 403
    status, _ = await tech.post("/admin/undelivered/redrive")
    assert status == 403


async def test_finance_sees_fees_and_every_ticket_but_acts_on_none_and_calls_nobody(desk: Desk):
    mine, _ = await two_plumbing_jobs(desk)
    assert await desk.act(mine, "arrive", "zhangsan") == "ok"
    assert await desk.act(mine, "quote", "zhangsan", {"items": [{"key": "tap"}]}) == "ok"
    finance = await desk.signed_in("13800000015")
    assert mine in finance.html and "¥80.00" in finance.html
    assert "13912345678" not in finance.html and "139****5678" in finance.html
    await finance.get(f"/admin/tickets/{mine}")
    assert "更换水龙头" in finance.html and "¥80.00" in finance.html
    assert "13912345678" not in finance.html and "139****5678" in finance.html
    assert "没有可执行的操作" in finance.html
    status, html = await finance.get("/admin/fees?period=2026-12")
    assert status == 200 and mine in html and "¥80.00" in html


async def test_fees_are_not_the_desks_business(desk: Desk):
    mine, _ = await two_plumbing_jobs(desk)
    assert await desk.act(mine, "arrive", "zhangsan") == "ok"
    assert await desk.act(mine, "quote", "zhangsan", {"items": [{"key": "tap"}]}) == "ok"
    front = await desk.signed_in("13800000014")
    assert "¥80.00" not in front.html
    await front.get(f"/admin/tickets/{mine}")
    assert "¥80.00" not in front.html and "13912345678" in front.html     # the desk calls back, it does not bill
    assert (await front.get("/admin/fees"))[0] == 403


async def test_phone_numbers_are_masked_in_every_list_and_for_those_who_do_not_call(desk: Desk):
    mine, _ = await two_plumbing_jobs(desk)
    for phone in ("13800000009", "13800000014"):             # a supervisor and the desk call; lists never show it
        b = await desk.signed_in(phone)
        assert "139****5678" in b.html and "13912345678" not in b.html
        await b.get(f"/admin/tickets/{mine}")
        assert "13912345678" in b.html
    for phone in ("13800000011", "13800000012"):             # the director and leadership do not call residents
        b = await desk.signed_in(phone)
        await b.get(f"/admin/tickets/{mine}")
        assert "13912345678" not in b.html and "139****5678" in b.html


async def test_the_director_approves_a_waiver_under_500_and_leadership_is_not_asked(desk: Desk):
    mine, _ = await two_plumbing_jobs(desk)
    for action, body in (("arrive", None), ("quote", {"items": [{"key": "tap"}]}),
                         ("waive", {"payer": "property", "reason": "老住户，物业承担"})):
        assert await desk.act(mine, action, "zhangsan", body) == "ok"
    leader = await desk.signed_in("13800000012")
    await leader.get(f"/admin/tickets/{mine}")
    assert not leader.offers("waive_approve")
    director = await desk.signed_in("13800000011")
    await director.get(f"/admin/tickets/{mine}")
    assert director.offers("waive_approve") and director.offers("waive_reject") and "待审批" in director.html
    await director.post(f"/admin/tickets/{mine}/actions/waive_approve", {"note": "同意"}, form_of="waive_approve")
    assert "已执行「批准」" in director.text() and "已批准" in director.html
    t = await desk.sim.ticket(mine)
    assert t["waiver"]["status"] == "approved" and t["waiver"]["decided_by"] == "陈总监" and t["fee"] == "0.00"


async def test_the_role_is_the_configurations_now_a_removed_person_is_signed_out(desk: Desk):
    b = await desk.signed_in("13800000009")
    async with desk.services.sessions() as session, session.begin():
        from bot.settings import StaffSettings, TradeSettings
        await sync_configuration(session, [TradeSettings(**t) for t in TRADES],
                                 [StaffSettings(**s) for s in STAFF if s["name"] != "王主管"], desk.clock.now())
    await b.get("/admin/tickets")
    assert "/admin/login" in b.url
    status, _ = await b.login("13800000009", PASSWORD)
    assert status == 401


async def test_a_supervisor_sees_every_ticket_and_the_counts(desk: Desk):
    mine, theirs = await two_plumbing_jobs(desk)
    await desk.report("5栋大堂的灯不亮了", user="r4", who="吴先生 13500003333")
    sup = await desk.signed_in("13800000009")
    assert mine in sup.html and theirs in sup.html
    counts = dict(re.findall(r'data-status="(\w+)">[^<]*<b>(\d+)</b>', sup.html))
    assert counts == {"accepted": "2", "dispatched": "1", "overdue": "0"}
    assert "共 3 张" in sup.text()
