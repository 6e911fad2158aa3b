"""The follow-up queue (回访, BR-25) with its coverage against the quota, and the duty desk (BR-3) with its
editable working calendar, as pages of the console."""
from __future__ import annotations

import re

from tests.console_steps import Desk, desk  # noqa: F401 — the fixture


async def verified_public_job(desk: Desk) -> str:
    number = await desk.report("5栋大堂的灯不亮了", user="r2", who="陈先生 13700001111")
    for action in ("accept", "arrive", "complete"):
        assert await desk.act(number, action, "lisi") == "ok"
    assert await desk.act(number, "verify", "zhouqiantai") == "ok"         # BR-21: the desk checks public work
    return number


async def test_the_desk_calls_back_from_the_queue_and_the_coverage_shows(desk: Desk):
    number = await verified_public_job(desk)
    front = await desk.signed_in("13800000014")
    await front.get("/admin/followups")
    assert number in front.html and "13700001111" in front.html             # the desk calls: the full number
    coverage = re.sub(r"\s+", " ", front.html.split('id="coverage"')[1].split("</section>")[0])
    assert "完工验收 <b>1</b> 张" in coverage and "100.0%" in coverage
    nonce = re.search(rf'data-followup="{number}">[\s\S]*?name="form" value="([^"]+)"', front.html).group(1)
    for _ in range(2):                                                      # a form sent twice records once
        await front.post(f"/admin/followups/{number}", {"outcome": "reached", "note": "业主满意", "form": nonce})
        assert "已记录" in front.text() and "已联系上" in front.text()
    assert f'data-number="{number}"' not in front.html                         # off the list to call
    await front.get("/admin/followups?status=done")
    assert number in front.html and "业主满意" in front.html
    t = await desk.sim.ticket(number)
    calls = [e for e in t["events"] if e["action"] == "followup_called"]
    assert len(calls) == 1 and calls[0]["channel"] == "console" and calls[0]["actor"].startswith("console:p")
    await front.get(f"/admin/tickets/{number}")
    assert "回访" in front.text() and "已联系上" in front.text()


async def test_who_does_not_call_sees_the_coverage_not_the_number_and_a_technician_nothing(desk: Desk):
    number = await verified_public_job(desk)
    director = await desk.signed_in("13800000011")
    await director.get("/admin/followups")
    assert number in director.html and "13700001111" not in director.html and "137****1111" in director.html
    tech = await desk.signed_in("13800000003")
    assert (await tech.get("/admin/followups"))[0] == 403
    assert (await tech.post(f"/admin/followups/{number}", {"outcome": "reached"}))[0] == 403


async def test_the_duty_page_says_who_holds_the_desk_and_the_days_ahead(desk: Desk):
    # 2026-11-29 10:00 is a Sunday: the housekeeper on duty holds the day hours (BR-3).
    sup = await desk.signed_in("13800000009")
    await sup.get("/admin/duty")
    on_duty = sup.html.split('id="on-duty"')[1].split("</section>")[0]
    assert "孙管家" in on_duty and "11-29 18:00" in on_duty
    assert "周前台" in sup.html and "未配置人员" in sup.html                  # Monday's desk; nobody for 中控


async def test_a_supervisor_corrects_a_day_of_the_calendar_and_undoes_it(desk: Desk):
    sup = await desk.signed_in("13800000009")
    await sup.get("/admin/duty")
    await sup.post("/admin/duty/calendar", {"date": "2026-11-30", "kind": "holiday", "name": "停水放假"})
    assert "2026-11-30 现为「节假日」" in sup.text()
    assert 'data-day="2026-11-30"' in sup.html and "人工修改" in sup.html
    await sup.get("/admin/duty")
    assert re.search(r"11-30（一）</td>\s*<td>节假日 停水放假</td>\s*<td>管家：孙管家", sup.html)
    await sup.post("/admin/duty/calendar", {"date": "2026-11-30", "reset": "1"})
    assert "2026-11-30 现为「工作日」" in sup.text()
    assert 'data-day="2026-11-30"' not in sup.html
    status, _ = await sup.post("/admin/duty/calendar", {"date": "2026-13-01", "kind": "holiday"})
    assert status == 400


async def test_the_desk_reads_the_calendar_but_does_not_change_it(desk: Desk):
    front = await desk.signed_in("13800000014")
    status, html = await front.get("/admin/duty")
    assert status == 200 and 'action="/admin/duty/calendar"' not in html
    status, _ = await front.post("/admin/duty/calendar", {"date": "2026-11-30", "kind": "holiday"})
    assert status == 403
    assert (await (await desk.signed_in("13800000001")).get("/admin/duty"))[0] == 403
