"""Digests on the injected clock (BR-22, BR-28, BR-30) and the new-ticket notice to the desk on duty (BR-3).

The alerts group is a WeCom group chat on the simulator's fake WeCom API; staff are reached 1:1 on the
simulator's channel. Each digest is sent once, by one sweep of one process, whatever runs after it.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import unused_port
from sqlalchemy import func, select

from bot.app import create_app
from bot.runtime import run_pending
from bot.services import services_of
from bot.settings import ConfigError, load_settings
from bot.sim.wecom_api import FAKE_WECOM
from dispatch.digests import shift_start
from dispatch.duty import Duty, next_change
from store.models import DigestRun, Outbox
from tests.conftest import Sim
from tests.resident_stage import act, told

TZ = ZoneInfo("Asia/Shanghai")
ALERTS = "wr_alerts"
TRADES = [{"key": "plumbing", "name": "水"}]
STAFF = [
    {"name": "前台小李", "role": "desk", "phone": "13800000011", "sim_user": "desk1"},
    {"name": "中控老周", "role": "control", "phone": "13800000012", "sim_user": "control1"},
    {"name": "管家小陈", "role": "housekeeper", "phone": "13800000013", "sim_user": "keeper1"},
    {"name": "张师傅", "role": "technician", "trades": ["plumbing"], "phone": "13800000001", "sim_user": "zhangsan"},
    {"name": "王主管", "role": "supervisor", "trades": ["plumbing"], "phone": "13800000009", "sim_user": "wangzhuguan"},
    {"name": "刘总监", "role": "director", "phone": "13800000005", "sim_user": "director1"},
]
DESK_PEOPLE = ("desk1", "control1", "keeper1")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=TZ)


@pytest.fixture
def start(aiohttp_client, make_settings, clock, backend):
    """Start an instance of the service on the test's database, beside any already running (several
    processes); each plays WeCom on its own fake API, with the alerts group chat in it."""
    async def start_(staff=STAFF, **config):
        port = unused_port()
        settings = make_settings(service={"public_url": f"http://127.0.0.1:{port}"}, staff=staff, trades=TRADES,
                                 alerts={"wecom_chat_id": ALERTS}, **config)
        app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix, demo_wecom=True)
        client = await aiohttp_client(app, server_kwargs={"port": port})
        app[FAKE_WECOM].add_chat(ALERTS)
        return client
    return start_


async def report(sim: Sim, user: str) -> str:
    """A resident reports a blocked toilet in their own unit (one per resident: BR-4 links the same place)."""
    room = 301 + sum(map(ord, user)) % 97
    for text in (f"9栋2单元{room}马桶堵了", "刘女士 13912345678", "确认"):
        replies = await sim.say(user, text)
    return replies[0].split("单号 ")[1].split()[0]


def group(client) -> list[str]:
    """The digests the alerts group chat received, in order: its text messages (the overdue alerts that the
    same group gets are cards, posted there as markdown: dispatch/escalation.py, tested in test_escalation)."""
    out = []
    for s in client.app[FAKE_WECOM].sent:
        if s["kind"] == "appchat" and s["chat"] == ALERTS and s["payload"].get("msgtype") == "text":
            out.append(s["payload"]["text"]["content"])
    return out


async def tick(client, clock, when: datetime) -> None:
    clock.set(when)
    await run_pending(services_of(client.app))


async def runs(client, prefix: str) -> tuple[int, int]:
    """(digest_runs rows, outbox rows) of the digests whose period starts with `prefix`."""
    async with services_of(client.app).sessions() as s:
        n_runs = (await s.execute(select(func.count()).select_from(DigestRun)
                                  .where(DigestRun.period.like(f"{prefix}%")))).scalar_one()
        n_rows = (await s.execute(select(func.count()).select_from(Outbox)
                                  .where(Outbox.dedupe_key.like(f"digest:{prefix}%")))).scalar_one()
    return n_runs, n_rows


# ---- BR-22: 17:30 completed today, 17:40 unfinished with reasons --------------------------------------------

async def test_completed_at_1730_once_and_unfinished_at_1740_with_reasons(start, clock):
    clock.set(at(2026, 11, 30, 10, 0))      # a Monday
    client = await start()
    sim, app = Sim(client), client.app
    await run_pending(services_of(app))
    done = await report(sim, "r1")
    await act(app, done, "accept")
    await act(app, done, "arrive")
    await act(app, done, "complete", {"minutes": 30})
    waiting = await report(sim, "r2")                   # nobody has taken it
    held = await report(sim, "r3")
    await act(app, held, "accept")
    await act(app, held, "arrive")
    await act(app, held, "hold", {"reason": "等配件"})

    await tick(client, clock, at(2026, 11, 30, 17, 29))
    assert group(client) == []
    await tick(client, clock, at(2026, 11, 30, 17, 30))
    [digest] = group(client)
    assert "今日完工：1 单" in digest and done in digest and "张师傅" in digest
    assert waiting not in digest and held not in digest
    # Another sweep of this process, and another process on the same database: nothing more.
    await tick(client, clock, at(2026, 11, 30, 17, 31))
    other = await start()
    await tick(other, clock, at(2026, 11, 30, 17, 32))
    assert len(group(client)) == 1 and group(other) == []
    assert await runs(client, "completed:2026-11-30") == (1, 1)

    await tick(client, clock, at(2026, 11, 30, 17, 40))
    [_, unfinished] = group(client)
    assert "未完成工单：2 单" in unfinished and done not in unfinished
    [w] = [line for line in unfinished.splitlines() if waiting in line]
    assert "已派单" in w or "待" in w
    assert "无人接单" in w and "接单已超时" in w           # BR-10's 20 minutes ran out long ago
    [h] = [line for line in unfinished.splitlines() if held in line]
    assert "等配件" in h and "张师傅" in h and "暂停" in h
    await tick(other, clock, at(2026, 11, 30, 17, 45))
    assert len(group(client)) == 2 and group(other) == []
    assert await runs(client, "unfinished:2026-11-30") == (1, 1)


async def test_a_digest_missed_while_down_is_sent_when_back_the_same_day_only(start, clock):
    """The catch-up rule: back at 20:00, today's 17:30 and 17:40 go out once; a day missed entirely does not."""
    clock.set(at(2026, 11, 30, 12, 0))
    client = await start()
    await run_pending(services_of(client.app))
    await tick(client, clock, at(2026, 11, 30, 20, 0))          # nothing ran from 12:00 to 20:00
    sent = group(client)
    assert len([m for m in sent if "今日完工" in m]) == 1 and len([m for m in sent if "未完成工单：" in m]) == 1
    assert await runs(client, "completed:") == (1, 1) and await runs(client, "unfinished:") == (1, 1)
    await tick(client, clock, at(2026, 12, 2, 10, 0))            # down all of 1 December
    await tick(client, clock, at(2026, 12, 2, 11, 0))
    assert await runs(client, "completed:2026-12-01") == (0, 0)
    assert await runs(client, "completed:") == (1, 1)


# ---- BR-30: the handover at each desk change --------------------------------------------------------------

async def test_the_handover_goes_to_the_incoming_and_outgoing_desk_and_the_group(start, clock):
    clock.set(at(2026, 11, 27, 16, 0))      # a Friday
    client = await start()
    sim, app = Sim(client), client.app
    await run_pending(services_of(app))
    number = await report(sim, "r1")
    await act(app, number, "accept")

    await tick(client, clock, at(2026, 11, 27, 17, 59))
    assert not [m for m in group(client) if "交班" in m]
    await tick(client, clock, at(2026, 11, 27, 18, 0))
    [evening] = [m for m in group(client) if "交班" in m]
    assert "前台 → 中控" in evening and "中控老周" in evening and number in evening and "张师傅" in evening
    for person in ("control1", "desk1"):                         # incoming and outgoing
        assert [m for m in await told(client, person) if "交班" in m] == [evening]
    assert not [m for m in await told(client, "keeper1") if "交班" in m]

    await tick(client, clock, at(2026, 11, 28, 9, 0))           # Saturday morning: the housekeeper
    [_, morning] = [m for m in group(client) if "交班" in m]
    assert "中控 → 管家" in morning and "管家小陈" in morning and number in morning
    assert [m for m in await told(client, "keeper1") if "交班" in m] == [morning]
    assert [m for m in await told(client, "control1") if "交班" in m] == [evening, morning]
    assert [m for m in await told(client, "desk1") if "交班" in m] == [evening]
    await tick(client, clock, at(2026, 11, 28, 9, 30))
    other = await start()
    await tick(other, clock, at(2026, 11, 28, 10, 0))
    assert await runs(client, "handover:2026-11-28T09:00") == (1, 3)   # the group, incoming, outgoing: once
    assert len([m for m in group(client) if "交班" in m]) == 2


@pytest.mark.parametrize("now, began", [
    (at(2026, 11, 27, 8, 59), at(2026, 11, 26, 18, 0)),
    (at(2026, 11, 27, 9, 0), at(2026, 11, 27, 9, 0)),
    (at(2026, 11, 27, 17, 59), at(2026, 11, 27, 9, 0)),
    (at(2026, 11, 27, 18, 0), at(2026, 11, 27, 18, 0)),
    (at(2026, 11, 27, 23, 59), at(2026, 11, 27, 18, 0)),
])
def test_the_shift_a_handover_belongs_to(now, began):
    """The handover's period is the desk change that began the shift holding the desk now (dispatch/duty.py)."""
    duty = Duty()
    assert shift_start(now, duty) == began
    assert next_change(began - timedelta(seconds=1), duty) == began


# ---- BR-28: the weekly summary on Monday morning ----------------------------------------------------------

async def test_the_weekly_summary_on_monday_at_nine(start, clock):
    clock.set(at(2026, 11, 26, 10, 0))      # Thursday of week 48
    client = await start()
    sim, app = Sim(client), client.app
    await run_pending(services_of(app))
    done = await report(sim, "r1")
    await act(app, done, "accept")
    await act(app, done, "arrive")
    await act(app, done, "complete", {"minutes": 30})
    await report(sim, "r2")

    await tick(client, clock, at(2026, 11, 30, 8, 59))
    assert not [m for m in group(client) if "周报" in m]
    await tick(client, clock, at(2026, 11, 30, 9, 0))
    [weekly] = [m for m in group(client) if "周报" in m]
    assert "2026-W48" in weekly and "11-23 至 11-29" in weekly
    assert "报修 2 单" in weekly and "完成 1 单（完成率 50.0%）" in weekly and "未完成 1 单" in weekly
    assert [m for m in await told(client, "director1") if "周报" in m] == [weekly]    # BR-28: the director too
    await tick(client, clock, at(2026, 11, 30, 9, 5))
    assert await runs(client, "weekly:") == (1, 2)


# ---- BR-3: a new ticket's notice to whoever holds the desk ------------------------------------------------

@pytest.mark.parametrize("when, on_duty", [
    (at(2026, 11, 30, 10, 0), "desk1"),       # a weekday's day hours: the front desk
    (at(2026, 11, 30, 20, 0), "control1"),    # the night: central control
    (at(2026, 11, 28, 10, 0), "keeper1"),     # Saturday: the housekeeper on duty
])
async def test_a_new_ticket_is_told_to_the_desk_on_duty(start, clock, when, on_duty):
    clock.set(when)
    client = await start()
    number = await report(Sim(client), "r1")
    for person in DESK_PEOPLE:
        notices = [m for m in await told(client, person) if "新报修" in m]
        if person == on_duty:
            assert len(notices) == 1 and number in notices[0] and "马桶堵了" in notices[0]
        else:
            assert notices == []


async def test_with_nobody_on_the_desk_the_supervisors_hear_of_a_new_ticket(start, clock):
    clock.set(at(2026, 11, 30, 10, 0))
    client = await start(staff=[p for p in STAFF if p["role"] != "desk"])
    number = await report(Sim(client), "r1")
    [notice] = [m for m in await told(client, "wangzhuguan") if "新报修" in m]
    assert number in notice


# ---- [digests] --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("digests, words", [
    ({"completed": "5:30pm"}, "digests.completed"),
    ({"weekly": "Monday 09:00"}, "digests.weekly"),
    ({"completed": "18:00", "unfinished": "17:40"}, "must not come before"),
    ({"complete": "17:30"}, "digests.complete: unknown key"),
])
def test_digest_times_are_checked(digests, words):
    with pytest.raises(ConfigError) as e:
        load_settings(None, digests=digests)
    assert words in str(e.value)
