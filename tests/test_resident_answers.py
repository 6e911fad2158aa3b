"""The resident's answers after 接单, through the simulator: 同意 / 不同意 a quote (BR-13) or a new visit time
(BR-11/12), 已修好 / 没修好 (BR-21), the sign-off timer, and answers with nothing to answer."""
from __future__ import annotations

import pytest

from bot.app import create_app
from bot.services import services_of
from dispatch.resident import answer, auto_signoff
from dispatch.tickets import get_ticket
from tests.conftest import Sim, auth
from tests.resident_stage import PHONE, STAFF, TRADES, actions, completed, proposed, quoted, report, sent_to, told


@pytest.fixture
async def world(aiohttp_client, make_settings, clock, backend):
    app = create_app(make_settings(staff=STAFF, trades=TRADES), clock=clock, run_background=False,
                     redis_prefix=backend.prefix)
    client = await aiohttp_client(app)
    sim = Sim(client)
    number = await report(sim)
    return client, sim, number


async def test_the_quote_is_asked_with_its_items_and_the_two_answers(world):
    client, sim, number = world
    await quoted(client.app, number)
    [question] = [i for i in await sent_to(client, "resident") if "报价" in i["text"]]
    assert question["options"] == ["同意", "不同意"]
    assert "更换角阀：80 元" in question["text"] and "合计 120 元" in question["text"]
    assert (await sim.ticket(number))["status"] == "quoted"


async def test_a_quote_agreed_lets_the_work_start_and_a_second_agree_changes_nothing(world):
    client, sim, number = world
    await quoted(client.app, number)
    [reply] = await sim.say("resident", "同意")
    assert "同意" in reply and "120" in reply and number in reply
    t = await sim.ticket(number)
    assert t["status"] == "quote_accepted" and actions(t).count("quote_agreed") == 1
    assert any("已同意" in m and number in m for m in await told(client, "zhangsan"))  # BR-13: he may start
    [again] = await sim.say("resident", "同意")
    assert "没有需要回复「同意」" in again
    t = await sim.ticket(number)
    assert t["status"] == "quote_accepted" and actions(t).count("quote_agreed") == 1


async def test_a_quote_declined_goes_to_the_housekeeper_with_the_residents_phone(world):
    """BR-13: a disputed quote is negotiated by the housekeeper; the trade's supervisors know too."""
    client, sim, number = world
    await quoted(client.app, number)
    [reply] = await sim.say("resident", "不同意")
    assert "管家" in reply
    t = await sim.ticket(number)
    assert t["status"] == "rejected" and "quote_declined" in actions(t)
    for who in ("chenguanjia", "wangzhuguan"):
        assert any("不同意" in m and PHONE in m for m in await told(client, who)), who
    assert not any(number in m for m in await told(client, "sunzhuguan"))  # another trade's supervisor


async def test_a_new_visit_time_agreed_becomes_the_visit(world):
    client, sim, number = world
    await proposed(client.app, number)
    [question] = [i for i in await sent_to(client, "resident") if "改到" in i["text"]]
    assert "明天下午3点" in question["text"] and question["options"] == ["同意", "不同意"]
    [reply] = await sim.say("resident", "同意")
    assert "明天下午3点" in reply
    t = await sim.ticket(number)
    assert t["visit_text"] == "明天下午3点" and t["status"] == "accepted" and "visit_agreed" in actions(t)
    assert any("明天下午3点" in m for m in await told(client, "zhangsan"))


async def test_a_new_visit_time_declined_asks_the_technician_to_call(world):
    client, sim, number = world
    await proposed(client.app, number)
    await sim.say("resident", "不同意")
    t = await sim.ticket(number)
    assert t["visit_text"] is None and "visit_declined" in actions(t)
    assert any("另约" in m and PHONE in m for m in await told(client, "zhangsan"))


async def test_not_fixed_sends_it_back_to_the_same_technician_and_tells_the_manager(world):
    """BR-21: work that fails acceptance goes back for rework, and the manager is told."""
    client, sim, number = world
    await completed(client.app, number)
    [question] = [i for i in await sent_to(client, "resident") if "已完工" in i["text"]]
    assert question["options"] == ["已修好", "没修好"] and "24 小时内未回复视为已修好" in question["text"]
    [reply] = await sim.say("resident", "没修好")
    assert "返工" in reply
    t = await sim.ticket(number)
    assert t["status"] == "rework" and t["assignee"]["name"] == "张师傅" and "not_fixed" in actions(t)
    assert any("没修好" in m and PHONE in m for m in await told(client, "zhangsan"))
    for who in ("wangzhuguan", "zhoujingli"):
        assert any("验收未通过" in m for m in await told(client, who)), who


async def test_with_a_ticket_number_the_answer_goes_to_that_ticket_only_if_it_is_theirs(world):
    client, sim, number = world
    await completed(client.app, number)
    [reply] = await sim.say("neighbour", f"已修好 {number}")
    assert "没有找到" in reply  # someone else's ticket reads as one that does not exist
    assert (await sim.ticket(number))["status"] == "completed"
    [reply] = await sim.say("resident", f"已修好 {number}")
    assert "已验收" in reply and (await sim.ticket(number))["status"] == "verified"


async def test_an_answer_with_nothing_awaiting_changes_nothing_and_says_so(world):
    client, sim, number = world
    for word in ("同意", "不同意", "已修好", "没修好", "4", "5 4 5", "跳过"):
        [reply] = await sim.say("stranger", word)
        assert f"没有需要回复「{word}」" in reply, word
    # The resident's ticket asks for sign-off: 同意 is not its answer, and they are told which words are.
    await completed(client.app, number)
    [reply] = await sim.say("resident", "同意")
    assert "没有需要回复「同意」" in reply and "「已修好」" in reply and "「没修好」" in reply
    t = await sim.ticket(number)
    assert t["status"] == "completed" and not [a for a in actions(t) if a.startswith(("quote_", "visit_"))]


async def test_during_a_report_a_digit_belongs_to_the_report(world):
    """`1` answers the intake's question (公共区域) while a report is open, never a survey."""
    client, sim, number = world
    await sim.say("resident", "灯不亮了")
    replies = await sim.say("resident", "会所")
    assert any("公共区域" in r for r in replies)
    replies = await sim.say("resident", "1")
    assert not any("没有需要回复" in r for r in replies)


async def test_a_repeated_answer_acts_once_even_when_sent_at_once(world):
    client, sim, number = world
    await completed(client.app, number)
    services = services_of(client.app)
    outcomes = []
    for _ in range(2):
        async with services.sessions() as s, s.begin():
            result = await answer(s, "sim", "resident", "signoff_fixed", services.clock.now(), policy=services.policy)
            outcomes.append(result.outcome)
    assert outcomes == ["ok", "nothing_awaiting"]
    t = await sim.ticket(number)
    assert actions(t).count("signed_off") == 1


async def test_no_answer_in_24_hours_counts_as_accepted(world):
    """BR-21: the sign-off timer records signoff "auto" with its own event, then the survey is asked."""
    client, sim, number = world
    clock = services_of(client.app).clock
    await completed(client.app, number)
    services = services_of(client.app)
    async with services.sessions() as s, s.begin():
        ticket_id = (await get_ticket(s, number)).id
        early = await auto_signoff(s, ticket_id, clock.now(), services.policy)
    assert early.outcome == "bad_state"   # not due yet
    clock.advance(24 * 3600)
    async with services.sessions() as s, s.begin():
        assert (await auto_signoff(s, ticket_id, clock.now(), services.policy)).outcome == "ok"
    async with services.sessions() as s, s.begin():
        assert (await auto_signoff(s, ticket_id, clock.now(), services.policy)).outcome == "bad_state"
    from bot.runtime import run_pending
    await run_pending(services)
    t = await sim.ticket(number)
    assert t["status"] == "verified" and actions(t).count("signed_off_auto") == 1
    async with services.sessions() as s:
        assert (await get_ticket(s, number)).signoff == "auto"
    assert any("打分" in i["text"] for i in await sent_to(client, "resident"))  # the survey follows
    [reply] = await sim.say("resident", "已修好")  # too late: nothing to answer any more
    assert "没有需要回复「已修好」" in reply


async def test_the_hold_notice_gives_the_expected_finish_and_asks_nothing(world):
    """BR-18: told why the work waits and until when; no answer is expected, whatever was asked stays asked."""
    from datetime import timedelta

    from bot.runtime import run_pending
    from dispatch.prompts import ask_resident

    client, sim, number = world
    await quoted(client.app, number)
    services = services_of(client.app)
    until = services.clock.now() + timedelta(days=2)
    async with services.sessions() as s, s.begin():
        await ask_resident(s, await get_ticket(s, number), "hold", services.clock.now(), reason="等厂家配件",
                           until=until)
    await run_pending(services)
    [notice] = [i for i in await sent_to(client, "resident") if "暂时停工" in i["text"]]
    assert "等厂家配件" in notice["text"] and until.strftime("%m-%d") in notice["text"] and notice["options"] == []
    async with services.sessions() as s:
        assert (await get_ticket(s, number)).awaiting == "quote"


async def test_a_watcher_of_the_ticket_may_answer(world):
    """BR-4: a neighbour who reported the same fault joined the ticket; they may answer its question too."""
    client, sim, number = world
    replies = await sim.say("neighbour", "9栋2单元301马桶堵了")
    assert any(number in r for r in replies)   # shown the open ticket: they now watch it
    await completed(client.app, number)
    replies = await sim.say("neighbour", "没修好")   # then their open report's question again
    assert "返工" in replies[0] and (await sim.ticket(number))["status"] == "rework"


async def test_the_signoff_timer_accepts_the_work_after_24_hours(world):
    """BR-21 end to end: 完工, no answer, the simulator's clock moves 24 h, the timer signs off ("auto")."""
    client, sim, number = world
    await completed(client.app, number)
    resp = await client.post("/sim/api/clock", json={"advance": 23 * 3600}, headers=auth())
    assert resp.status == 200 and (await sim.ticket(number))["status"] == "completed"
    await client.post("/sim/api/clock", json={"advance": 3600}, headers=auth())
    t = await sim.ticket(number)
    assert t["status"] == "verified" and actions(t).count("signed_off_auto") == 1
    assert any("未提出问题" in m for m in await told(client, "zhangsan"))
    assert any("打分" in i["text"] for i in await sent_to(client, "resident"))  # the survey follows
