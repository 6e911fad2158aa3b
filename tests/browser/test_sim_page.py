"""The simulator page as a new user meets it: report a burst pipe as a resident, accept it as a plumber and
press the job card's next buttons, see the other plumber's card taken and the resident told who is coming
(WeCom on the wire, BR-5, BR-8)."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import screenshot


def _say(page, text: str) -> None:
    page.fill("#text", text)
    page.press("#text", "Enter")


def _be(page, label: str) -> None:
    """Switch the page's identity, as the 「身份」 menu does for a person trying roles."""
    page.select_option("#who", label=label) if label != "住户" else page.select_option("#who", value="")


def test_a_resident_reports_and_a_plumber_accepts_on_the_simulator_page(service, page, tmp_path):
    page.goto(service + "/sim/")
    chat = page.locator("#chat")
    expect(page.locator("#platform")).to_have_value("wecom")  # the page speaks WeCom's wire protocol by default

    _say(page, "3栋2单元1502卫生间水管爆了")
    expect(chat).to_contain_text("电话")          # asks only for what is missing: name and phone
    _say(page, "王女士 13812345678")
    expect(chat).to_contain_text("请核对")
    expect(chat).to_contain_text("紧急")          # a burst pipe is an emergency (BR-5)
    _say(page, "确认")
    expect(chat).to_contain_text(re.compile(r"单号 BX\d{8}-\d{4}"))
    number = re.search(r"BX\d{8}-\d{4}", chat.inner_text()).group(0)
    screenshot(page, "sim-resident-reports", tmp_path)

    _be(page, "张师傅（technician）")
    card = page.locator(".bubble.card", has_text=number)
    expect(card).to_be_visible()
    expect(card).to_contain_text("3栋2单元1502卫生间")
    expect(card).to_contain_text("水管爆了")
    card.get_by_role("button", name="接单").click()
    # The taker's copy becomes the job card: the buttons of the next step (contract.md "Lifecycle").
    expect(card.get_by_role("button", name="已到达")).to_be_visible()
    expect(card.get_by_role("button", name="接单")).to_have_count(0)
    expect(card).to_contain_text("已接单")
    screenshot(page, "sim-technician-accepts", tmp_path)
    card.get_by_role("button", name="已到达").click()
    expect(card.get_by_role("button", name="完工")).to_be_visible()
    expect(card.get_by_role("button", name="报价")).to_be_visible()
    card.get_by_role("button", name="完工").click()
    expect(chat).to_contain_text("用了哪些材料")   # 完工 asks for its record in the technician's chat
    _say(page, "取消")
    expect(chat).to_contain_text("已放弃「完工」")

    _be(page, "赵师傅（technician）")  # the other plumber's copy of the same card
    other = page.locator(".bubble.card", has_text=number)
    expect(other.locator(".status")).to_contain_text("张师傅")
    expect(other.get_by_role("button", name="接单")).to_be_disabled()

    _be(page, "住户")
    expect(chat).to_contain_text(f"{number} 已由 张师傅 接单")
    expect(chat).to_contain_text("13800000001")  # the technician's phone, so the resident can call
    screenshot(page, "sim-resident-told", tmp_path)
