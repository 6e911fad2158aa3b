"""The simulator page's clock: a standalone simulator moves its own time on, so a demo sees what a day later
brings (the 24 h sign-off, the survey's reminder) without waiting."""
from __future__ import annotations

from datetime import datetime, timedelta

from playwright.sync_api import expect


def test_the_page_moves_the_simulators_clock_on_by_a_day(service, page):
    page.goto(service + "/sim/")
    clock = page.locator("#clock")
    expect(page.locator("#clockbar")).to_be_visible()
    expect(clock).not_to_be_empty()
    before = datetime.strptime(clock.inner_text(), "%Y-%m-%d %H:%M")
    page.get_by_role("button", name="+1天").click()
    later = (before + timedelta(days=1)).strftime("%Y-%m-%d")
    expect(clock).to_contain_text(later)
