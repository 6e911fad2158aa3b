"""One ticket's whole life on the simulator page, as a new user walks it (issue 10, must-show): a resident
reports a leaking tap, the plumber accepts, arrives and quotes from the price list in his 1:1 chat, the
resident agrees, the plumber records the completion, the resident signs it off and answers the survey
(WeCom on the wire; BR-13, BR-17, BR-21, BR-26). The ticket ends `closed` with the resident's scores."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_sim_page import _be, _say

PLUMBER = "张师傅（technician）"   # the demo cast's plumber (bot/sim/demo.toml)


def _answer(page, text: str, reply: str) -> None:
    """Type one answer and wait for the bot's next bubble saying `reply` (an earlier one may say it too)."""
    said = page.locator("#chat .row.bot", has_text=reply)
    before = said.count()
    _say(page, text)
    expect(said).to_have_count(before + 1)


def _token(tmp_path) -> str:
    """The zero-config API token, printed once at start (README: "note it now")."""
    log = (tmp_path / "serve.log").read_text()
    return re.search(r"generated API token is (\S+)", log).group(1)


def test_one_ticket_from_the_first_message_to_the_survey_on_the_simulator_page(service, page, tmp_path):
    page.goto(service + "/sim/")
    chat = page.locator("#chat")

    # --- the resident reports -------------------------------------------------------------------------
    _say(page, "3栋2单元1502厨房水龙头漏水")
    expect(chat).to_contain_text("电话")
    _say(page, "王女士 13812345678")
    expect(chat).to_contain_text("请核对")
    _say(page, "确认")
    expect(chat).to_contain_text(re.compile(r"单号 BX\d{8}-\d{4}"))
    number = re.search(r"BX\d{8}-\d{4}", chat.inner_text()).group(0)

    # --- the plumber: 接单, 已到达, 报价 from the price list (BR-13) ----------------------------------------
    _be(page, PLUMBER)
    card = page.locator(".bubble.card", has_text=f"水维修 · {number}")
    expect(card).to_contain_text("水龙头漏水")
    card.get_by_role("button", name="接单").click()
    expect(chat).to_contain_text(f"接单成功：{number}")
    card.get_by_role("button", name="已到达").click()
    expect(chat).to_contain_text(f"已到达：{number}")
    expect(card.get_by_role("button", name="完工")).to_be_visible()
    card.get_by_role("button", name="报价").click()
    expect(chat).to_contain_text("价目表")          # the quote continues in the technician's 1:1 chat
    expect(chat).to_contain_text("1. 更换水龙头（人工） 50元")
    _answer(page, "1", "有需要说明的吗")
    _answer(page, "跳过", "请核对报价")
    expect(page.locator(".bubble", has_text="请核对报价")).to_contain_text("合计 50元")
    _answer(page, "确认", f"报价已发给业主：{number}")
    expect(card).to_contain_text("待业主确认")
    expect(card.get_by_role("button", name="完工")).to_have_count(0)  # no completion before an agreed quote (BR-14)

    # --- the resident agrees to the quote -------------------------------------------------------------
    _be(page, "住户")
    quote = page.locator(".bubble", has_text=f"维修单 {number} 报价")
    expect(quote).to_contain_text("更换水龙头（人工）：50 元")
    expect(quote).to_contain_text("合计 50 元")
    quote.get_by_role("button", name="同意", exact=True).click()
    expect(chat).to_contain_text(f"已确认您同意维修单 {number} 的报价")

    # --- the plumber completes: materials, minutes, no note, no photos, 确认 (BR-17) ------------------------
    _be(page, PLUMBER)
    expect(chat).to_contain_text(f"业主已同意维修单 {number} 的报价")
    expect(card).to_contain_text("业主已同意")
    for label in ("暂停", "完工", "转派"):
        expect(card.get_by_role("button", name=label)).to_be_visible()
    card.scroll_into_view_if_needed()
    screenshot(page, "lifecycle-technician", tmp_path)
    card.get_by_role("button", name="完工").click()
    expect(chat).to_contain_text("用了哪些材料")
    expect(chat).to_contain_text("1. 水龙头（个）\n2. 生料带（卷）")
    _answer(page, "1 1", "用了多长时间")
    _answer(page, "30", "有需要说明的吗")
    _answer(page, "跳过", "完工后的照片")
    _answer(page, "跳过", "请核对完工记录")
    record = page.locator(".bubble.card", has_text="请核对完工记录")
    expect(record).to_contain_text("材料：水龙头×1")
    expect(record).to_contain_text("用时：30 分钟")
    record.get_by_role("button", name="确认").click()
    expect(chat).to_contain_text(f"已完工：{number}")
    expect(card.first).to_contain_text("等待验收")

    # --- the resident signs off and answers the survey (BR-21, BR-26) ---------------------------------
    _be(page, "住户")
    signoff = page.locator(".bubble.card", has_text=f"维修单 {number} 已完工")
    signoff.get_by_role("button", name="已修好").click()
    expect(chat).to_contain_text(f"维修单 {number} 已验收。")
    expect(chat).to_contain_text("请为本次维修打分")
    _answer(page, "5 4 5", "感谢您的评价")
    expect(chat).to_contain_text("质量 5 分，服务 4 分，沟通 5 分")
    _answer(page, "师傅很专业，谢谢", "已收到您的意见")
    screenshot(page, "lifecycle-survey", tmp_path)

    # --- the ticket as the API tells it ------------------------------------------------------------------
    got = page.request.get(f"{service}/api/v1/tickets/{number}",
                           headers={"Authorization": f"Bearer {_token(tmp_path)}"})
    assert got.ok, got.text()
    ticket = got.json()
    assert ticket["status"] == "closed"
    assert ticket["assignee"]["name"] == "张师傅"
    assert ticket["quote"]["status"] == "agreed" and ticket["quote"]["total"] == "50.00"
    assert ticket["materials"] == [{"name": "水龙头", "qty": 1}] and ticket["minutes"] == 30
    assert ticket["signoff"] == "fixed"
    rating = ticket["rating"]
    assert (rating["quality"], rating["service"], rating["communication"]) == (5, 4, 5)
    assert rating["comment"] == "师傅很专业，谢谢" and 1 <= rating["overall"] <= 5
    done = [e["action"] for e in ticket["events"]]
    assert [k for k in done if k in ("accepted", "arrived", "quoted", "quote_agreed", "completed", "signed_off",
                                      "survey_done")] == ["accepted", "arrived", "quoted", "quote_agreed",
                                                          "completed", "signed_off", "survey_done"]
