"""The ticket list's filters (dispatch.tickets.TicketFilter as the console uses it): status, trade, area,
category, assignee, date range, text, overdue by the rule's clocks (BR-9, BR-10), and the counts per status."""
from __future__ import annotations

import re

from tests.console_steps import Desk, desk  # noqa: F401 — the fixture


def numbers(html: str) -> set[str]:
    return set(re.findall(r'data-number="(BX\d{8}-\d{4})"', html))


async def three(desk: Desk) -> tuple[str, str, str]:
    burst = await desk.report("3栋2单元1502卫生间水管爆了", user="r1", who="刘女士 13912345678")   # emergency, unit
    lamp = await desk.report("5栋大堂的灯不亮了", user="r2", who="陈先生 13700001111")             # daily, public
    drip = await desk.report("2栋101阳台水龙头滴水_100%", user="r3", who="孙女士 13600002222")     # daily, unit
    return burst, lamp, drip


async def test_each_filter_narrows_the_list(desk: Desk):
    burst, lamp, drip = await three(desk)
    assert await desk.act(burst, "accept", "zhangsan") == "ok"
    sup = await desk.signed_in("13800000009")
    cases = {
        "trade=plumbing": {burst, drip}, "trade=electrical": {lamp},
        "area=public": {lamp}, "area=unit": {burst, drip},
        "category=emergency": {burst}, "category=daily": {lamp, drip},
        "status=accepted": {burst}, "status=dispatched": {lamp, drip},
        "assignee=none": {lamp, drip},
        "q=大堂": {lamp}, "q=" + burst[-4:]: {burst}, "q=水管": {burst}, "q=100%25": {drip}, "q=%25": {drip},
        "q=_": {drip}, "q=nothing+like+it": set(),
        "since=2026-11-29&until=2026-11-29": {burst, lamp, drip}, "since=2026-11-30": set(),
        "until=2026-11-28": set(), "trade=plumbing&area=unit&status=dispatched": {drip},
    }
    for query, expected in cases.items():
        await sup.get(f"/admin/tickets?{query}")
        assert numbers(sup.html) == expected, query
    zhang = re.search(r'<option value="(\d+)"[^>]*>张师傅</option>', sup.html).group(1)
    await sup.get(f"/admin/tickets?assignee={zhang}")
    assert numbers(sup.html) == {burst}


async def test_counts_per_status_follow_every_filter_but_the_status(desk: Desk):
    burst, lamp, drip = await three(desk)
    assert await desk.act(burst, "accept", "zhangsan") == "ok"
    sup = await desk.signed_in("13800000009")
    await sup.get("/admin/tickets?trade=plumbing&status=accepted")
    counts = dict(re.findall(r'data-status="(\w+)">[^<]*<b>(\d+)</b>', sup.html))
    assert counts == {"accepted": "1", "dispatched": "1", "overdue": "0"} and numbers(sup.html) == {burst}


async def test_overdue_means_a_clock_of_the_rule_has_run_out(desk: Desk):
    burst, lamp, drip = await three(desk)
    sup = await desk.signed_in("13800000009")
    await sup.get("/admin/tickets?overdue=1")
    assert numbers(sup.html) == set()
    desk.clock.advance(minutes=16)            # BR-9: an emergency is accepted within 15 min
    await sup.get("/admin/tickets")
    assert re.search(r'data-status="overdue">[^<]*<b>1</b>', sup.html)      # at a glance, beside the counts
    await sup.get("/admin/tickets?overdue=1")
    assert numbers(sup.html) == {burst}
    assert "已超时" in sup.html
    desk.clock.advance(minutes=5)             # 21 min: the daily ones' 20 min to accept (and a unit's to arrive)
    await sup.get("/admin/tickets?overdue=1")
    assert numbers(sup.html) == {burst, lamp, drip}
    for action in ("accept", "arrive", "complete"):
        assert await desk.act(burst, action, "zhangsan") == "ok"
    await sup.get("/admin/tickets?overdue=1")
    assert numbers(sup.html) == {lamp, drip}   # finished work: its clocks stopped


async def test_a_query_it_cannot_read_is_ignored_not_an_error(desk: Desk):
    burst, lamp, drip = await three(desk)
    sup = await desk.signed_in("13800000009")
    for query in ("status=nonsense", "trade=%00", "since=yesterday", "assignee=abc", "page=-4", "page=x",
                  "q=" + "长" * 500, "page=99999999999999999999"):
        status, _ = await sup.get(f"/admin/tickets?{query}")
        assert status == 200, query


async def test_the_rest_api_list_is_unchanged(desk: Desk):
    burst, lamp, drip = await three(desk)
    assert {t["number"] for t in await desk.sim.tickets(trade="plumbing")} == {burst, drip}
    assert {t["number"] for t in await desk.sim.tickets(area="public")} == {lamp}
