"""Escalation chains (issue 11): each level on time, pauses moving it, 已知晓 stopping it, re-escalation, 改派,
an unassigned ticket reaching the duty desk, a complaint's reply clock (BR-27) — on the injected clock."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.services import services_of
from tests.aftercare_steps import STAFF, TRADES, act, advance, report, sent_to, ticket
from tests.conftest import Sim, auth

MIN = 60
# The demo cast, a manager, a director and the housekeeper on duty (START is a Sunday morning: BR-3 gives
# the desk's day hours to the housekeeper).
CAST = STAFF + [
    {"name": "孙经理", "role": "manager", "trades": [], "sim_user": "sunjingli"},
    {"name": "钱总监", "role": "director", "trades": [], "sim_user": "qianzongjian"},
    {"name": "吴管家", "role": "housekeeper", "trades": [], "sim_user": "wuguanjia"},
]
CHAIN = [{"at": "50%", "notify": "assignee"}, {"at": "100%", "notify": "supervisor"},
         {"at": "+30m", "notify": "manager"}, {"at": "+2h", "notify": "director"}]


def settings_with(make_settings, clock_name: str = "respond", **sla):
    return make_settings(staff=CAST, trades=TRADES, sla={"daily_respond": 1200, **sla},
                         escalation=[{"category": "*", "clock": clock_name, "steps": CHAIN}])


@pytest.fixture
async def client(aiohttp_client, make_settings, clock, backend):
    from bot.app import create_app

    app = create_app(settings_with(make_settings), clock=clock, run_background=False, redis_prefix=backend.prefix)
    return await aiohttp_client(app)


@pytest.fixture
def sim(client):
    return Sim(client)


async def alerts_to(client, user: str) -> list[dict]:
    """The overdue alert cards a person got (their buttons: 已知晓, 改派·…)."""
    items = (await (await client.get("/sim/api/sent", params={"user": user})).json())["sent"]
    return [i for i in items if i.get("card") and "超时提醒" in i["card"]["title"]]


def button(alert: dict, label: str) -> str:
    return next(payload for text, payload in alert["card"]["buttons"] if text.startswith(label))


async def press(client, user: str, payload: str) -> str:
    resp = await client.post("/sim/api/press", json={"user": user, "payload": payload}, headers=auth())
    assert resp.status == 200, await resp.text()
    return (await resp.json())["outcome"]


async def reminders_to(client, user: str) -> list[str]:
    return [t for t in await sent_to(client, user) if "时限已过半" in t]


async def test_an_unaccepted_ticket_climbs_every_level_once(client, sim):
    """Nobody takes the job: 50 % reminds whoever holds the desk (BR-3: the housekeeper on Sunday), 100 % alerts
    the trade's supervisor and the desk, +30 min the manager, +2 h the director — each once."""
    number = await report(sim)
    await advance(client, 9 * MIN)
    assert await reminders_to(client, "wuguanjia") == []
    await advance(client, 1 * MIN)                                     # 10 of 20 minutes
    assert len(await reminders_to(client, "wuguanjia")) == 1
    assert await alerts_to(client, "wangzhuguan") == []
    await advance(client, 10 * MIN)                                    # 100 %
    [alert] = await alerts_to(client, "wangzhuguan")
    assert number in alert["card"]["title"] and "专业主管" in alert["card"]["title"]
    assert [label for label, _ in alert["card"]["buttons"]] == ["已知晓", "改派·张师傅", "改派·赵师傅"]
    assert len(await alerts_to(client, "wuguanjia")) == 1              # unassigned: the desk hears too
    assert await alerts_to(client, "sunjingli") == []
    await advance(client, 30 * MIN)
    assert len(await alerts_to(client, "sunjingli")) == 1
    assert await alerts_to(client, "qianzongjian") == []
    await advance(client, 90 * MIN)
    assert len(await alerts_to(client, "qianzongjian")) == 1
    await advance(client, 24 * 60 * MIN)
    for user in ("wangzhuguan", "sunjingli", "qianzongjian"):
        assert len(await alerts_to(client, user)) == 1, user
    t = await ticket(client, number)
    assert [e["details"]["level"] for e in t["events"] if e["action"] == "escalated"] == \
        ["assignee", "supervisor", "manager", "director"]


async def test_accepting_stops_the_respond_chain_in_the_same_commit(client, sim):
    number = await report(sim)
    await advance(client, 5 * MIN)
    assert await act(client, number, "accept", "zhangsan") == "ok"
    await advance(client, 5 * 60 * MIN)
    assert await alerts_to(client, "wangzhuguan") == [] and await reminders_to(client, "wuguanjia") == []
    from store.models import Timer
    async with services_of(client.app).sessions() as s:
        states = dict((await s.execute(select(Timer.status, func.count()).where(Timer.kind == "escalation")
                                       .group_by(Timer.status))).all())
    assert states == {"cancelled": 4}


async def test_the_half_time_reminder_goes_to_the_technician_holding_the_job(aiohttp_client, make_settings, clock,
                                                                             backend):
    from bot.app import create_app

    app = create_app(settings_with(make_settings, "arrive"), clock=clock, run_background=False,
                     redis_prefix=backend.prefix)
    client = await aiohttp_client(app)
    number = await report(Sim(client))
    assert await act(client, number, "accept", "zhangsan") == "ok"
    await advance(client, 10 * MIN)                                    # BR-10: 20 min to arrive
    assert len(await reminders_to(client, "zhangsan")) == 1
    assert await reminders_to(client, "wuguanjia") == []
    assert await act(client, number, "arrive", "zhangsan") == "ok"   # the arrive clock stops
    await advance(client, 3 * 60 * MIN)
    assert await alerts_to(client, "wangzhuguan") == []


async def test_a_hold_moves_the_steps_and_resuming_schedules_them_again(aiohttp_client, make_settings, clock, backend):
    """The operational finish clock stands still on hold (BR-18): the 100 % alert comes as late as the hold lasted."""
    from bot.app import create_app

    app = create_app(settings_with(make_settings, "finish", daily_finish=7200), clock=clock, run_background=False,
                     redis_prefix=backend.prefix)
    client = await aiohttp_client(app)
    number = await report(Sim(client))
    for action in ("accept", "arrive"):
        assert await act(client, number, action, "zhangsan") == "ok"
    await advance(client, 30 * MIN)
    assert await act(client, number, "hold", "zhangsan", {"reason": "等配件"}) == "ok"
    await advance(client, 3 * 60 * MIN)                                # held 3 h: past the 2 h, no alert
    assert await alerts_to(client, "wangzhuguan") == []
    assert await act(client, number, "resume", "zhangsan") == "ok"
    await advance(client, 89 * MIN)                                    # 30 + 89 worked minutes
    assert await alerts_to(client, "wangzhuguan") == []
    await advance(client, 1 * MIN)
    assert len(await alerts_to(client, "wangzhuguan")) == 1


async def test_acknowledging_stops_the_next_levels_and_the_unfinished_job_escalates_again(client, sim):
    """已知晓 by the alerted supervisor: no manager at +30 min; after `reescalate_after` (1 h) the job, still not
    taken, alerts the supervisor again and the chain resumes (manager 30 min later)."""
    number = await report(sim)
    await advance(client, 20 * MIN)
    [alert] = await alerts_to(client, "wangzhuguan")
    assert await press(client, "sunjingli", button(alert, "已知晓")) == "not_alerted"    # not theirs
    assert await press(client, "wangzhuguan", button(alert, "已知晓")) == "ok"
    assert await press(client, "wangzhuguan", button(alert, "已知晓")) == "ok"           # twice: once
    t = await ticket(client, number)
    assert [e["action"] for e in t["events"]].count("acknowledged") == 1
    await advance(client, 59 * MIN)
    assert await alerts_to(client, "sunjingli") == [] and len(await alerts_to(client, "wangzhuguan")) == 1
    await advance(client, 1 * MIN)                                     # 1 h after the 已知晓
    again = await alerts_to(client, "wangzhuguan")
    assert len(again) == 2 and "再次" in again[1]["card"]["title"]
    await advance(client, 30 * MIN)
    assert len(await alerts_to(client, "sunjingli")) == 1
    assert await alerts_to(client, "qianzongjian") == []
    await advance(client, 90 * MIN)
    assert len(await alerts_to(client, "qianzongjian")) == 1


async def test_an_acknowledged_job_finished_in_time_does_not_escalate_again(client, sim):
    number = await report(sim)
    await advance(client, 20 * MIN)
    [alert] = await alerts_to(client, "wangzhuguan")
    assert await press(client, "wangzhuguan", button(alert, "已知晓")) == "ok"
    assert await act(client, number, "accept", "zhaoliu") == "ok"
    await advance(client, 5 * 60 * MIN)
    assert len(await alerts_to(client, "wangzhuguan")) == 1 and await alerts_to(client, "sunjingli") == []


async def test_the_reassign_button_on_an_alert_hands_the_job_to_that_technician(client, sim):
    number = await report(sim)
    await advance(client, 20 * MIN)
    [alert] = await alerts_to(client, "wangzhuguan")
    assert await press(client, "wangzhuguan", button(alert, "改派·赵师傅")) == "ok"
    t = await ticket(client, number)
    assert t["status"] == "accepted" and t["assignee"]["name"] == "赵师傅"
    await advance(client, 5 * 60 * MIN)
    assert await alerts_to(client, "sunjingli") == []                  # taken: the respond chain is over


async def test_a_restart_loses_no_timer_and_fires_none_twice(aiohttp_client, make_settings, clock, backend):
    from bot.app import create_app

    settings = settings_with(make_settings)
    first = await aiohttp_client(create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix))
    number = await report(Sim(first))
    await advance(first, 20 * MIN)
    assert len(await alerts_to(first, "wangzhuguan")) == 1
    await first.close()
    second = await aiohttp_client(create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix))
    await advance(second, 30 * MIN)
    await advance(second, 0)
    t = await ticket(second, number)
    assert [e["details"]["level"] for e in t["events"] if e["action"] == "escalated"] == \
        ["assignee", "supervisor", "manager"]


async def test_an_unanswered_complaint_escalates_and_a_reply_stops_it(aiohttp_client, make_settings, clock, backend):
    """BR-27: a complaint not replied to within `[sla] complaint_reply` alerts the supervisors; a reply cancels
    the rest of its chain in the same commit."""
    from bot.app import create_app
    from dispatch.complaints import open_complaint, reply_complaint

    settings = make_settings(staff=CAST, trades=TRADES, sla={"complaint_reply": 3600},
                             escalation=[{"category": "complaint", "clock": "reply", "steps": CHAIN[1:]}])
    client = await aiohttp_client(create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix))
    await report(Sim(client))
    services = services_of(client.app)
    async with services.sessions() as s, s.begin():
        complaint = await open_complaint(s, "sim", "resident", "师傅一直不来", None, services.clock.now(),
                                         services.policy)
        number = complaint.number
    await advance(client, 3600)
    told = [t for t in await sent_to(client, "wangzhuguan") if "未回复" in t]
    assert len(told) == 1 and number in told[0]
    from dispatch.complaints import complaint_by_number
    async with services.sessions() as s, s.begin():
        await reply_complaint(s, await complaint_by_number(s, number), "王主管", "今天下午上门", services.clock.now())
    await advance(client, 5 * 3600)
    assert [t for t in await sent_to(client, "sunjingli") if "未回复" in t] == []


async def test_overdue_alerts_reach_the_alerts_group_on_wecom_and_feishu_with_working_buttons(
        aiohttp_client, make_settings, clock, backend):
    """Through the platforms' real wire formats (the simulator's fake APIs): the Feishu alerts group gets the
    card with 已知晓 / 改派 buttons, the WeCom alerts group the markdown (appchat carries no buttons) and the
    supervisor a WeCom button card 1:1; 已知晓 pressed on WeCom and 改派 pressed in the Feishu group work."""
    from aiohttp.test_utils import unused_port

    from bot.app import create_app
    from bot.runtime import run_pending
    from bot.sim.wecom_api import FAKE_WECOM

    port = unused_port()
    # The supervisor is on WeCom (1:1 button cards); everyone is on Feishu too (the demo gives open_ids).
    staff = [dict(p, wecom_userid=p["sim_user"]) if p["sim_user"] == "wangzhuguan" else p for p in CAST]
    settings = make_settings(staff=staff, trades=TRADES, sla={"daily_respond": 1200},
                             escalation=[{"category": "*", "clock": "respond", "steps": CHAIN}]).model_copy(update={"service": make_settings(
        service={"public_url": f"http://127.0.0.1:{port}"}).service})
    settings = settings.model_copy(update={"alerts": settings.alerts.model_copy(
        update={"wecom_chat_id": "wr_alerts", "feishu_chat_id": "oc_alerts"})})
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix,
                     demo_wecom=True, demo_feishu=True)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    app[FAKE_WECOM].add_chat("wr_alerts")
    number = await report(Sim(client))
    await advance(client, 20 * MIN)

    feishu = (await (await client.get("/sim/feishu/_sent", params={"receive_id": "oc_alerts"})).json())["sent"]
    [card] = [m for m in feishu if m["msg_type"] == "interactive"]
    assert number in str(card["content"]) and "超时" in str(card["content"])
    buttons = [e for col in card["content"]["body"]["elements"] if col.get("tag") == "column_set"
               for c in col["columns"] for e in c["elements"]]
    assert [b["text"]["content"] for b in buttons] == ["已知晓", "改派·张师傅", "改派·赵师傅"]

    wecom = (await (await client.get("/sim/wecom/_sent")).json())["sent"]
    group = [e for e in wecom if e["kind"] == "appchat" and e["chat"] == "wr_alerts"]
    assert len(group) == 1 and number in group[0]["payload"]["markdown"]["content"]
    [one] = [e for e in wecom if e.get("user") == "wangzhuguan" and e.get("msgtype") == "template_card"
             and "超时" in str(e["payload"])]
    tc = one["payload"]["template_card"]
    ack_key = next(b["key"] for b in tc["button_list"] if b["text"] == "已知晓")
    resp = await client.post("/sim/api/wecom/click", json={"user": "wangzhuguan", "task_id": tc["task_id"],
                                                          "key": ack_key})
    assert (await resp.json())["callback_status"] == 200
    await run_pending(services_of(app))
    t = await ticket(client, number)
    assert [e["action"] for e in t["events"]].count("acknowledged") == 1
    replies = (await (await client.get("/sim/wecom/_sent", params={"user": "wangzhuguan"})).json())["sent"]
    assert any("已知晓" in str(e["payload"]) and e.get("msgtype") == "text" for e in replies)

    reassign = next(b for b in buttons if b["text"]["content"] == "改派·赵师傅")
    resp = await client.post("/sim/api/feishu/click", json={
        "user": "wangzhuguan", "message_id": card["message_id"], "chat_id": "oc_alerts",
        "value": reassign["behaviors"][0]["value"]})
    answer = (await resp.json())["answer"]
    assert answer["toast"]["type"] == "success", answer
    await run_pending(services_of(app))
    t = await ticket(client, number)
    assert t["assignee"]["name"] == "赵师傅"
    await advance(client, 5 * 60 * MIN)       # taken: no more alerts on either platform
    assert len([e for e in (await (await client.get("/sim/wecom/_sent")).json())["sent"]
                if e["kind"] == "appchat" and e["chat"] == "wr_alerts"]) == 1


async def test_an_agreed_visit_later_in_the_day_moves_the_arrival_alert_after_it(aiohttp_client, make_settings, clock,
                                                                                backend):
    """BR-12: the resident asked for 15:00 (it is 10:00): the arrive clock waits for that time, so its 100 %
    alert comes at 15:20, with no change of the ticket in between."""
    from bot.app import create_app
    from tests.aftercare_steps import file

    settings = make_settings(staff=CAST, trades=TRADES,
                             escalation=[{"category": "*", "clock": "arrive", "steps": [CHAIN[1]]}])
    client = await aiohttp_client(create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix))
    filed = await file(client, visit_text="今天下午3点")
    assert filed["visit_at"]
    await advance(client, 5 * 60 * MIN + 19 * MIN)
    assert await alerts_to(client, "wangzhuguan") == []
    await advance(client, 1 * MIN)
    assert len(await alerts_to(client, "wangzhuguan")) == 1


def test_escalation_settings_are_checked_and_read_as_offsets_from_the_due_time():
    from bot.settings import ConfigError, load_settings
    from dispatch.escalation import DEFAULT_STEPS, chain_for, step_offset
    from dispatch.policy import Policy

    assert step_offset("50%", 1200) == -600 and step_offset("100%", 1200) == 0
    assert step_offset("+30m", 1200) == 1800 and step_offset("+2h", 60) == 7200
    for bad in ("soon", "+30", "30m", "%50"):
        with pytest.raises(ValueError):
            step_offset(bad, 1200)
    with pytest.raises((ConfigError, ValueError)):
        load_settings(None, escalation=[{"clock": "respond", "steps": [{"at": "half", "notify": "supervisor"}]}])
    with pytest.raises((ConfigError, ValueError)):
        load_settings(None, escalation=[{"clock": "respond", "steps": [{"at": "50%", "notify": "janitor"}]}])
    assert chain_for(Policy(), "daily", "finish") == DEFAULT_STEPS          # none configured: the default chain
    from dispatch.escalation import Chain, Step
    policy = Policy(chains=(Chain("*", "respond", (Step("100%", "manager"),)),
                            Chain("emergency", "respond", (Step("50%", "supervisor"),))))
    assert chain_for(policy, "emergency", "respond") == (Step("50%", "supervisor"),)
    assert chain_for(policy, "daily", "respond") == (Step("100%", "manager"),)
    assert chain_for(policy, "daily", "finish") == ()                      # configured chains name only respond
