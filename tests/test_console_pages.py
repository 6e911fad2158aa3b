"""The console's pages doing their work: actions through the same domain call as the cards, 代录 with the chat's
checks, photos and the audit trail, the printable 工程维修单 (BR-6), undelivered messages and their re-drive."""
from __future__ import annotations

import re

from sqlalchemy import select, update

from store.models import Outbox, PersonIdentity, Ticket, TicketEvent
from tests.console_steps import Desk, desk  # noqa: F401 — the fixture
from tests.test_intake_dialogues import PNG


async def events_of(desk: Desk, number: str) -> list[TicketEvent]:
    async with desk.services.sessions() as session:
        ticket = (await session.execute(select(Ticket).where(Ticket.number == number))).scalar_one()
        return list(ticket.events)


async def test_a_supervisor_reassigns_from_the_ticket_page(desk: Desk):
    number = await desk.report()
    sup = await desk.signed_in("13800000009")
    await sup.get(f"/admin/tickets/{number}")
    assert sup.offers("reassign") and sup.offers("cancel") and not sup.offers("arrive")
    status, _ = await sup.post(f"/admin/tickets/{number}/actions/reassign", {"to": "zhangsan"}, form_of="reassign")
    assert status == 200 and sup.url.endswith(f"/admin/tickets/{number}")
    assert "已执行「改派」" in sup.text()
    assert re.search(r'id="assignee">张师傅', sup.html) and "已接单" in sup.html
    last = (await events_of(desk, number))[-1]
    assert (last.action, last.channel, last.to_status) == ("reassigned", "console", "accepted")
    assert last.details["by"] == "王主管" and last.details["to"] == "张师傅"
    assert "改派" in sup.text() and "交给 张师傅" in sup.text()          # the timeline names who and to whom


async def test_a_form_sent_twice_acts_once(desk: Desk):
    number = await desk.report()
    sup = await desk.signed_in("13800000009")
    await sup.get(f"/admin/tickets/{number}")
    nonce = sup.nonce("reassign")
    for _ in range(2):
        await sup.post(f"/admin/tickets/{number}/actions/reassign", {"to": "zhangsan", "form": nonce})
        assert "已执行「改派」" in sup.text()
    assert [e.action for e in await events_of(desk, number)].count("reassigned") == 1


async def test_a_refused_or_incomplete_action_says_why_and_changes_nothing(desk: Desk):
    number = await desk.report()
    sup = await desk.signed_in("13800000009")
    await sup.get(f"/admin/tickets/{number}")
    await sup.post(f"/admin/tickets/{number}/actions/cancel", {"reason": "  "}, form_of="cancel")
    assert "「取消」没有执行：原因填写有误" in sup.text()
    await sup.post(f"/admin/tickets/{number}/actions/verify", {"passed": "1"}, form_of="reassign")
    assert "没有执行" in sup.text()
    assert (await desk.sim.ticket(number))["status"] == "dispatched"


async def test_the_console_acts_as_the_person_through_an_identity_of_its_own(desk: Desk):
    """dispatch.actions.act finds the actor by (channel, user): the console's is console:p<id>, made when needed,
    and nothing is ever sent to it."""
    number = await desk.report()
    sup = await desk.signed_in("13800000009")
    await sup.get(f"/admin/tickets/{number}")
    await sup.post(f"/admin/tickets/{number}/actions/cancel", {"reason": "住户电话撤销"}, form_of="cancel")
    assert (await desk.sim.ticket(number))["status"] == "cancelled"
    async with desk.services.sessions() as session:
        idents = list((await session.execute(select(PersonIdentity).where(PersonIdentity.platform == "console")))
                      .scalars())
        rows = list((await session.execute(select(Outbox.channel))).scalars())
    assert [i.external_id for i in idents] == [(await desk.sim.ticket(number))["events"][-1]["actor"].split(":")[1]]
    assert "console" not in rows


async def test_the_ticket_page_shows_its_photo_timeline_and_clocks(desk: Desk):
    await desk.sim.say("r9", "3栋2单元1502卫生间水管爆了")
    await desk.sim.say("r9", image_b64=PNG)
    await desk.sim.say("r9", "王女士 13812345678")
    number = re.search(r"BX\d{8}-\d{4}", (await desk.sim.say("r9", "确认"))[0]).group(0)
    sup = await desk.signed_in("13800000009")
    await sup.get(f"/admin/tickets/{number}")
    [src] = re.findall(r'<img src="([^"]+)"', sup.html)
    assert src.startswith("/media/") and "sig=" in src           # a signed link on the console's own host
    status, _ = await sup.get(src.replace("&amp;", "&"))
    assert status == 200 and sup.headers["Content-Type"] == "image/png"
    await sup.get(f"/admin/tickets/{number}")
    text = sup.text()
    assert "报修" in text and "派单" in text and "派给 张师傅、赵师傅" in text
    assert 'data-clock="respond"' in sup.html and "15 分钟" in sup.text()    # BR-9: an emergency's 15 min
    assert "紧急" in sup.html
    desk.clock.advance(minutes=20)
    await sup.get(f"/admin/tickets/{number}")
    assert "已超时 5 分钟" in sup.text()


async def test_staff_enter_a_phone_report_with_the_chats_checks(desk: Desk):
    front = await desk.signed_in("13800000014")
    await front.get("/admin/entry")
    status, html = await front.post("/admin/entry", {"description": "厨房水龙头漏水", "location": "3栋2单元1502",
                                                     "reporter_name": "刘女士", "phone": ""}, form_of=None)
    assert status == 422 and "必填" in html
    assert await desk.sim.tickets() == []
    form = {"description": "厨房水龙头漏水", "location": "3栋2单元1502", "reporter_name": "刘女士",
            "phone": "139 1234 5678"}
    await front.get("/admin/entry")
    nonce = re.search(r'name="form" value="([^"]+)"', front.html).group(1)
    status, _ = await front.post("/admin/entry", {**form, "form": nonce})
    assert status == 200 and "已代录报修" in front.text()
    number = re.search(r"/admin/tickets/(BX\d{8}-\d{4})", front.url).group(1)
    t = await desk.sim.ticket(number)
    assert (t["channel"], t["phone"], t["trade"], t["area"]) == ("console", "13912345678", "plumbing", "unit")
    assert t["events"][0]["actor"].startswith("console:p") and t["status"] == "dispatched"
    await front.post("/admin/entry", {**form, "form": nonce})      # the same form again files nothing new
    assert "已经提交过" in front.text() and len(await desk.sim.tickets()) == 1


async def test_the_printed_work_order_has_four_copies_each_for_its_reader(desk: Desk):
    number = await desk.report()
    for action, body in (("accept", None), ("arrive", None), ("quote", {"items": [{"key": "tap"}]})):
        assert await desk.act(number, action, "zhangsan", body) == "ok"
    sup = await desk.signed_in("13800000009")
    await sup.get(f"/admin/tickets/{number}/print")
    copies = dict(re.findall(r'data-copy="(\w+)"([\s\S]*?)</section>', sup.html))
    assert list(copies) == ["engineering", "finance", "customer", "housekeeping"]
    assert "13912345678" in copies["engineering"] and "13912345678" in copies["housekeeping"]
    assert "13912345678" not in copies["finance"] and "139****5678" in copies["finance"]
    assert "13912345678" not in copies["customer"]
    assert "更换水龙头" in copies["finance"] and "80.00" in copies["finance"]
    assert "维修人签字" in copies["engineering"] and "张师傅" in copies["engineering"]
    assert "业户签字" in copies["customer"] and "管家验收签字" in copies["housekeeping"]
    assert 'href="/admin/static/print.css"' in sup.html
    director = await desk.signed_in("13800000011")            # who does not call residents prints no number
    await director.get(f"/admin/tickets/{number}/print")
    assert "13912345678" not in director.html


async def test_undelivered_messages_show_whom_to_call_and_go_again(desk: Desk):
    number = await desk.report()
    assert await desk.act(number, "accept", "zhangsan") == "ok"
    async with desk.services.sessions() as session, session.begin():
        row = (await session.execute(select(Outbox).where(Outbox.recipient.like("%resident%"))
                                     .order_by(Outbox.id.desc()).limit(1))).scalar_one()
        await session.execute(update(Outbox).where(Outbox.id == row.id)
                              .values(status="dead", last_error="platform said no"))
    sup = await desk.signed_in("13800000009")
    await sup.get("/admin/undelivered")
    assert number in sup.html and "13912345678" in sup.html and "多次失败" in sup.text()
    await sup.post("/admin/undelivered/redrive", {"outbox": str(row.id)})
    assert "已重新发送 1 条消息" in sup.text()
    async with desk.services.sessions() as session:
        assert (await session.get(Outbox, row.id)).status == "pending"


async def test_the_list_is_live_its_part_comes_alone(desk: Desk):
    number = await desk.report()
    sup = await desk.signed_in("13800000009")
    assert 'id="live"' in sup.html and "/admin/static/console.js" in sup.html
    status, part = await sup.get("/admin/tickets?partial=1")
    assert status == 200 and number in part and "<html" not in part and 'data-status="dispatched"' in part


async def test_static_files_are_served_without_signing_in_and_nothing_else_is(desk: Desk):
    b = desk.browser()
    for name in ("console.css", "console.js", "print.css"):
        status, _ = await b.get(f"/admin/static/{name}")
        assert status == 200, name
    for path in ("/admin/static/../ticket.html.j2", "/admin/static/%2e%2e/ticket.html.j2",
                 "/admin/static/..%2fticket.html.j2"):
        _, body = await b.get(path)
        assert "{%" not in body and "data-action" not in body, path     # never a template's source


async def test_a_path_that_names_no_page_is_a_404_page_of_the_console(desk: Desk):
    b = await desk.signed_in("13800000009")
    status, html = await b.get("/admin/nothing-here")
    assert status == 404 and "没有这个页面" in html and b.headers["X-Frame-Options"] == "DENY"
    anonymous = desk.browser()
    await anonymous.get("/admin/nothing-here")
    assert "/admin/login" in anonymous.url                  # not even its absence shows before signing in
