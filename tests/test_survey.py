"""The satisfaction survey (BR-26) and 投诉 (BR-27) in chat: 已修好 → survey → scores → a comment or 跳过 →
closed; three scores; a low score alerts the supervisors; a complaint with and without a ticket number."""
from __future__ import annotations

import sys
import types

import pytest

from bot.app import create_app
from bot.services import services_of
from bot.runtime import run_pending
from dispatch.prompts import ask_resident
from dispatch.tickets import get_ticket
from tests.conftest import Sim
from tests.resident_stage import PHONE, STAFF, TRADES, actions, completed, report, sent_to, told


@pytest.fixture
async def world(aiohttp_client, make_settings, clock, backend):
    app = create_app(make_settings(staff=STAFF, trades=TRADES), clock=clock, run_background=False,
                     redis_prefix=backend.prefix)
    client = await aiohttp_client(app)
    sim = Sim(client)
    number = await report(sim)
    return client, sim, number


async def surveyed(client, sim, number: str) -> None:
    """Done and signed off (已修好, BR-21): the survey is asked (BR-26)."""
    await completed(client.app, number)
    await sim.say("resident", "已修好")


async def survey_of(client, number: str) -> dict:
    async with services_of(client.app).sessions() as s:
        return dict((await get_ticket(s, number)).survey)


def overall(t: dict):
    """`rating` as the ticket's JSON shows it: the overall score, or an object holding it."""
    return t["rating"]["overall"] if isinstance(t["rating"], dict) else t["rating"]


async def test_fixed_then_survey_then_score_and_comment_closes_the_ticket(world):
    client, sim, number = world
    await completed(client.app, number)
    [reply] = await sim.say("resident", "已修好")
    assert "已验收" in reply
    t = await sim.ticket(number)
    assert t["status"] == "verified" and "signed_off" in actions(t)
    [question] = [i for i in await sent_to(client, "resident") if "打分" in i["text"]]
    assert question["options"] == ["5", "4", "3", "2", "1"] and "5 4 5" in question["text"]
    replies = await sim.say("resident", "4")
    assert "4 分" in replies[0] and "跳过" in replies[0]
    t = await sim.ticket(number)
    assert t["status"] == "closed" and overall(t) == 4 and t["closed_at"] and "survey_done" in actions(t)
    [thanks] = await sim.say("resident", "师傅很专业，准时到")
    assert "已收到您的意见" in thanks
    survey = await survey_of(client, number)
    assert survey["overall"] == 4 and survey["status"] == "answered" and survey["comment"] == "师傅很专业，准时到"
    t = await sim.ticket(number)
    assert actions(t).count("survey_comment") == 1
    # The comment was the one message after the scores: the next is an ordinary message again.
    replies = await sim.say("resident", "谢谢")
    assert not any("已收到您的意见" in r for r in replies)
    assert (await survey_of(client, number))["comment"] == "师傅很专业，准时到"


async def test_three_scores_and_skip(world):
    client, sim, number = world
    await surveyed(client, sim, number)
    [reply] = await sim.say("resident", "5 4 5")
    assert "质量 5 分" in reply and "服务 4 分" in reply and "沟通 5 分" in reply
    t = await sim.ticket(number)
    assert t["status"] == "closed" and overall(t) == 5   # the mean 4.67, rounded
    [reply] = await sim.say("resident", "跳过")
    assert "谢谢" in reply
    survey = await survey_of(client, number)
    assert (survey["quality"], survey["service"], survey["communication"], survey["comment"]) == (5, 4, 5, "")
    assert [e["details"] for e in (await sim.ticket(number))["events"] if e["action"] == "survey_comment"] == [
        {"skipped": True}]
    [again] = await sim.say("resident", "5")  # answered already: nothing changes
    assert "没有需要回复「5」" in again
    assert overall(await sim.ticket(number)) == 5


async def test_full_width_scores_are_read(world):
    client, sim, number = world
    await surveyed(client, sim, number)
    await sim.say("resident", "４，３，４")
    assert (await survey_of(client, number))["service"] == 3


async def test_a_low_score_alerts_the_trades_supervisors_and_forwards_the_comment(world):
    client, sim, number = world
    await surveyed(client, sim, number)
    [reply] = await sim.say("resident", "2 1 2")
    assert "主管会尽快联系您" in reply
    alerts = [m for m in await told(client, "wangzhuguan") if "低分" in m]
    assert len(alerts) == 1 and number in alerts[0] and "2 分" in alerts[0] and PHONE in alerts[0]
    assert not any("低分" in m for m in await told(client, "sunzhuguan"))  # another trade's
    await sim.say("resident", "等了三天才来")
    assert any("等了三天才来" in m for m in await told(client, "wangzhuguan"))


async def test_a_good_score_alerts_nobody(world):
    client, sim, number = world
    await surveyed(client, sim, number)
    await sim.say("resident", "3")
    assert not any("低分" in m for m in await told(client, "wangzhuguan"))


async def test_the_reminder_asks_again_and_an_answer_after_it_counts(world):
    client, sim, number = world
    await surveyed(client, sim, number)
    services = services_of(client.app)
    async with services.sessions() as s, s.begin():  # what the survey's reminder timer does (BR-26)
        await ask_resident(s, await get_ticket(s, number), "survey_reminder", services.clock.now())
    await run_pending(services)
    [reminder] = [i for i in await sent_to(client, "resident") if "还没收到您对" in i["text"]]
    assert reminder["options"] == ["5", "4", "3", "2", "1"]
    await sim.say("resident", "5")
    assert (await sim.ticket(number))["status"] == "closed"


# ---- 投诉 (BR-27) -------------------------------------------------------------------------------------

@pytest.fixture
def complaints(monkeypatch):
    """What the conversation hands to dispatch.complaints.open_complaint (its own tests: helper aftercare's)."""
    calls: list[tuple] = []

    async def open_complaint(session, channel, user, text, number, now, policy):
        calls.append((channel, user, text, number))
        return types.SimpleNamespace(number="TS20261129-0001")
    try:
        import dispatch.complaints as module
    except ImportError:
        module = types.ModuleType("dispatch.complaints")
        monkeypatch.setitem(sys.modules, "dispatch.complaints", module)
    monkeypatch.setattr(module, "open_complaint", open_complaint, raising=False)
    return calls


async def test_a_complaint_with_a_ticket_number_and_text_is_opened_at_once(world, complaints):
    client, sim, number = world
    [reply] = await sim.say("resident", f"投诉 {number} 师傅态度很差")
    assert "已收到您的投诉" in reply and "TS20261129-0001" in reply and number in reply
    assert complaints == [("sim", "resident", "师傅态度很差", number)]


async def test_a_complaint_without_text_asks_what_happened_and_takes_the_next_message(world, complaints):
    client, sim, number = world
    [ask] = await sim.say("resident", "投诉")
    assert "请说说发生了什么" in ask and complaints == []
    [reply] = await sim.say("resident", "修完第二天又漏水了，没人管")
    assert "已收到您的投诉" in reply
    assert complaints == [("sim", "resident", "修完第二天又漏水了，没人管", None)]
    await sim.say("resident", "你好")  # only the one message after 投诉 is the complaint
    assert len(complaints) == 1


async def test_a_complaint_about_a_numbered_ticket_without_text_keeps_the_number(world, complaints):
    client, sim, number = world
    [ask] = await sim.say("resident", f"投诉 {number}")
    assert number in ask
    await sim.say("resident", "还是不出水")
    assert complaints == [("sim", "resident", "还是不出水", number)]


async def test_a_complaint_is_recorded_and_linked_to_the_residents_ticket(world):
    """With helper aftercare's dispatch.complaints: the row itself (BR-27)."""
    pytest.importorskip("dispatch.complaints")
    from sqlalchemy import select

    from store.models import Complaint
    client, sim, number = world
    await sim.say("resident", f"投诉 {number} 师傅态度很差")
    async with services_of(client.app).sessions() as s:
        [row] = (await s.execute(select(Complaint))).scalars().all()
        ticket = await get_ticket(s, number)
    assert row.ticket_id == ticket.id and "师傅态度很差" in row.text and row.user_id == "resident"


async def test_cancel_instead_of_the_complaints_text_files_nothing(world, complaints):
    client, sim, number = world
    await sim.say("resident", "投诉")
    [reply] = await sim.say("resident", "取消")
    assert "投诉未提交" in reply
    await sim.say("resident", "楼道灯不亮")   # an ordinary message again: a new report, not a complaint
    assert complaints == []
