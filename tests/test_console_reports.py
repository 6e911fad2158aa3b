"""The reports on the console (BR-28, BR-29): the dashboard shows the API's figures with its charts, the download
is the API's workbook, and who may read which report follows bot/console/roles.py."""
from __future__ import annotations

import io
import re

from openpyxl import load_workbook

from tests.conftest import auth
from tests.console_steps import Desk, desk  # noqa: F401 — the fixture


async def a_month_of_work(desk: Desk) -> list[str]:
    done = await desk.report("5栋大堂的灯不亮了", user="r1", who="陈先生 13700001111")
    for action in ("accept", "arrive", "complete"):
        assert await desk.act(done, action, "lisi") == "ok"
    paid = await desk.report("3栋2单元1502厨房水龙头漏水", user="r2", who="刘女士 13912345678")
    for action, body in (("accept", None), ("arrive", None), ("quote", {"items": [{"key": "tap"}]})):
        assert await desk.act(paid, action, "zhangsan", body) == "ok"
    waiting = await desk.report("2栋101阳台水龙头滴水", user="r3", who="孙女士 13600002222")
    return [done, paid, waiting]


async def api(desk: Desk, path: str):
    resp = await desk.client.get(path, headers=auth())
    assert resp.status == 200, await resp.text()
    return resp


async def test_the_monthly_dashboard_shows_the_apis_figures_with_charts(desk: Desk):
    await a_month_of_work(desk)
    body = await (await api(desk, "/api/v1/reports/monthly?period=2026-11")).json()
    sup = await desk.signed_in("13800000009")
    status, html = await sup.get("/admin/reports/monthly?period=2026-11")
    assert status == 200 and "工程维修月报 · 2026-11" in html
    figures = dict(re.findall(r'data-figure="(\w+)">(\d+)<', html))
    totals = body["totals"]
    assert figures == {k: str(totals[k]) for k in ("issued", "completed", "unfinished", "cancelled")}
    assert figures["issued"] == "3" and figures["completed"] == "1"
    assert html.count("<svg") == 3 and 'class="seg completed"' in html and "按工种" in html
    assert "电" in html and "水" in html and "李师傅" in html and "未指派" in html
    await sup.get("/admin/reports/weekly?period=2026-W48")
    assert "工程维修周报 · 2026-W48" in sup.html
    await sup.get("/admin/reports")
    assert sup.url.endswith("/admin/reports/monthly")


async def test_the_download_is_the_apis_workbook(desk: Desk):
    await a_month_of_work(desk)
    manager = await desk.signed_in("13800000011")           # the director reads every report
    async with manager.session.get(manager.base + "/admin/reports/monthly?period=2026-11&format=xlsx") as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("application/vnd.openxmlformats")
        ours = load_workbook(io.BytesIO(await r.read()))
    theirs = load_workbook(io.BytesIO(await (await api(desk, "/api/v1/reports/monthly?period=2026-11&format=xlsx"))
                                      .read()))
    assert ours.sheetnames == theirs.sheetnames == ["汇总", "工程维修单追踪统计表", "工程有偿维修单追踪统计表"]
    for name in ours.sheetnames:
        assert [[c.value for c in row] for row in ours[name].iter_rows()] == \
               [[c.value for c in row] for row in theirs[name].iter_rows()], name
    async with manager.session.get(manager.base + "/admin/reports/finance?period=2026-12&format=xlsx"
                                   "&register=unit") as r:
        one = load_workbook(io.BytesIO(await r.read()))
    assert one.sheetnames == ["汇总", "工程有偿维修单追踪统计表"]


async def test_finance_reads_the_finance_report_only_and_a_technician_no_report(desk: Desk):
    numbers = await a_month_of_work(desk)
    finance = await desk.signed_in("13800000015")
    await finance.get("/admin/reports")
    assert finance.url.endswith("/admin/reports/finance")
    assert "工程维修财务结算" in finance.html and 'id="finance"' in finance.html
    assert (await finance.get("/admin/reports/monthly"))[0] == 403
    assert 'href="/admin/reports/monthly"' not in finance.html
    tech = await desk.signed_in("13800000001")
    for path in ("/admin/reports/finance", "/admin/reports/monthly", "/admin/reports/weekly",
                 "/admin/reports/finance?format=xlsx", "/admin/reports/monthly?format=xlsx"):
        status, html = await tech.get(path)
        assert status == 403 and "岗位" in html, path
    assert 'href="/admin/reports"' not in (await tech.get("/admin/tickets"))[1]
    front = await desk.signed_in("13800000014")
    assert (await front.get("/admin/reports/monthly"))[0] == 403
    assert numbers


async def test_a_period_that_does_not_exist_is_a_400_page(desk: Desk):
    sup = await desk.signed_in("13800000009")
    for bad in ("2026-13", "2027-W53", "26-11", "x"):
        status, html = await sup.get(f"/admin/reports/monthly?period={bad}")
        assert status == 400 and "没有这个报表期间" in html, bad


async def test_the_fee_list_follows_the_finance_reports_period(desk: Desk):
    _, paid, _ = await a_month_of_work(desk)
    finance = await desk.signed_in("13800000015")
    await finance.get("/admin/fees?period=2026-12")
    assert "2026-11-21 至 2026-12-20" in finance.html and paid in finance.html
    assert 'href="/admin/reports/finance?period=2026-12"' in finance.html
    await finance.get("/admin/fees?period=2026-11")
    assert paid not in finance.html
