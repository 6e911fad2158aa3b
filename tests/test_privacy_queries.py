"""「查询 BX…」 and 「我的报修」 show a ticket only to its reporter, its watchers (BR-4) and staff (BR-6)."""
from __future__ import annotations

from bot.services import services_of
from conversations.messages import InboundMessage
from templates.texts import Texts

NUMBER = "BX20261129-0001"
MISSING = "BX20261129-0042"   # the next numbers of the day: as guessable as the real one


async def _file(sim) -> None:
    await sim.say("alice", "A座大堂的自动门坏了，一直开着关不上 王女士 13812345678")
    assert NUMBER in (await sim.say("alice", "确认"))[0]


def _not_found(number: str) -> str:
    return Texts().render("tickets/not_found.j2", number=number)


async def test_a_stranger_asking_for_a_real_number_is_told_it_does_not_exist(sim):
    await _file(sim)
    hidden = await sim.say("mallory", f"查询 {NUMBER}")
    missing = await sim.say("mallory", f"查询 {MISSING}")
    assert missing == [_not_found(MISSING)]
    # Word for word the answer for a number that does not exist: nothing tells the two apart.
    assert hidden == [_not_found(NUMBER)]
    assert hidden == [t.replace(MISSING, NUMBER) for t in missing]
    assert not any("A座大堂" in t or "自动门" in t or "王女士" in t for t in hidden)


async def test_the_same_user_id_on_another_platform_is_another_account(client, sim):
    await _file(sim)
    engine = services_of(client.app).conversations
    replies = await engine.handle(InboundMessage(channel="wecom", chat="alice", user="alice",
                                                 text=f"查询 {NUMBER}", message_id="m1"))
    assert [r.text for r in replies] == [_not_found(NUMBER)]
    replies = await engine.handle(InboundMessage(channel="wecom", chat="alice", user="alice",
                                                 text="我的报修", message_id="m2"))
    assert NUMBER not in replies[0].text


async def test_the_reporter_sees_the_ticket(sim):
    await _file(sim)
    r = await sim.say("alice", f"查询 {NUMBER}")
    assert "A座大堂" in r[0] and "已派单" in r[0]


async def test_a_watcher_joined_by_br4_sees_the_ticket(sim):
    await _file(sim)
    assert "已把您加入关注" in (await sim.say("bob", "A座大堂自动门关不上了"))[0]
    r = await sim.say("bob", f"查询 {NUMBER}")
    assert "A座大堂" in r[0] and NUMBER in r[0]
    assert NUMBER in (await sim.say("bob", "我的报修"))[0]


async def test_staff_see_any_ticket(sim):
    await _file(sim)
    for staff in ("zhangsan", "wangzhuguan"):   # a technician and a supervisor of the demo cast
        r = await sim.say(staff, f"查询 {NUMBER}")
        assert "A座大堂" in r[0] and "已派单" in r[0], staff


async def test_my_reports_lists_only_own_and_watched_tickets(sim):
    await _file(sim)
    await sim.say("carol", "9栋2单元301马桶堵了 刘先生 13900001111")
    assert "BX20261129-0002" in (await sim.say("carol", "确认"))[0]
    mine = (await sim.say("alice", "我的报修"))[0]
    assert NUMBER in mine and "BX20261129-0002" not in mine
    assert "还没有报修记录" in (await sim.say("mallory", "我的报修"))[0]
