"""SLA clocks (BR-9, BR-10): respond, arrive, finish per category and area, the regulatory view that never
pauses and the operational one that waits for the resident and for parts; then the API shows them moving."""
from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace as NS
from zoneinfo import ZoneInfo

import pytest

from bot.app import create_app
from bot.services import services_of
from bot.settings import SlaSettings
from dispatch.actions import act
from dispatch.clocks import SLA, Sla, card_clock, clock_line, clocks_json, limit_of, ticket_clocks
from templates.texts import Texts
from tests.conftest import START, Sim, auth

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=TZ)          # the report


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ev(minutes: float, action: str, to: str, frm: str = "") -> NS:
    return NS(at=at(minutes), action=action, from_status=frm, to_status=to, details={})


def ticket(*events: NS, category: str = "emergency", area: str = "unit", visit_at: datetime | None = None,
           status: str | None = None) -> NS:
    """A ticket as filing leaves it (created, dispatched at the report), then `events`."""
    trail = [ev(0, "created", "submitted"), ev(0, "dispatched", "dispatched", "submitted"), *events]
    return NS(created_at=T0, category=category, area=area, visit_at=visit_at, events=trail,
              status=status or trail[-1].to_status)


def clocks(t: NS, minutes: float, sla=SLA):
    return ticket_clocks(t, at(minutes), sla)


def left(view) -> float:
    """Minutes left (negative: overdue)."""
    return view.left.total_seconds() / 60


ACCEPTED = ev(5, "accepted", "accepted", "dispatched")
ARRIVED = ev(10, "arrived", "on_site", "accepted")


# ---- which clocks a ticket has ---------------------------------------------------------------------------------

@pytest.mark.parametrize("category, area, expected", [
    ("emergency", "unit", {"respond": 900, "arrive": 1200, "finish": 7200}),   # BR-9 + BR-10
    ("emergency", "public", {"respond": 900, "finish": 7200}),                 # BR-9; no arrival figure
    ("daily", "unit", {"respond": 1200, "arrive": 1200, "finish": 86400}),     # BR-10
    ("daily", "public", {"respond": 1200, "finish": 86400}),
    ("planned", "unit", {}),                                                  # the property's own schedule
    ("planned", "public", {}),
])
def test_the_clocks_of_each_kind_of_ticket(category, area, expected):
    t = ticket(category=category, area=area)
    assert {k: c.limit for k, c in clocks(t, 1).items()} == expected
    assert set(clocks_json(t, at(1))) == set(expected)


def test_the_configuration_decides_the_figures_and_zero_turns_a_clock_off():
    sla = SlaSettings(daily_respond=600, public_arrive=1800, daily_finish=0)   # bot/settings.py serves as is
    assert limit_of("respond", "daily", "public", sla) == 600
    assert limit_of("arrive", "daily", "public", sla) == 1800
    assert limit_of("finish", "daily", "public", sla) == 0
    assert set(ticket_clocks(ticket(category="daily", area="public"), at(1), sla)) == {"respond", "arrive"}
    assert SlaSettings().model_dump(include=set(vars(Sla()))) == vars(Sla())   # the same defaults


# ---- respond (BR-9: 15 min to 接单 for an emergency) --------------------------------------------------------

def test_respond_runs_from_the_report_until_accepted():
    t = ticket()
    c = clocks(t, 10)["respond"]
    for view in (c.operational, c.regulatory):
        assert left(view) == 5 and view.due_at == at(15) and not view.paused and not view.breached
        assert view.stopped_at is None
    t = ticket(ev(12, "accepted", "accepted", "dispatched"))
    c = clocks(t, 60)["respond"]
    for view in (c.operational, c.regulatory):
        assert view.stopped_at == at(12) and left(view) == 3 and not view.breached   # stopped with 3 min to spare
    assert not c.running


def test_due_exactly_now_is_not_yet_breached_a_second_later_it_is():
    t = ticket()
    assert not clocks(t, 15)["respond"].operational.breached
    late = ticket_clocks(t, at(15) + timedelta(seconds=1))["respond"]
    assert late.operational.breached and late.regulatory.breached
    assert clocks_json(t, at(15) + timedelta(seconds=1))["respond"]["left_seconds"] == -1


def test_a_late_acceptance_stays_breached():
    t = ticket(ev(20, "accepted", "accepted", "dispatched"))
    c = clocks(t, 300)["respond"]
    assert c.operational.breached and c.regulatory.breached and left(c.operational) == -5
    assert c.operational.stopped_at == at(20)


def test_a_declined_job_starts_respond_again_the_rule_still_counting_from_the_report():
    t = ticket(ACCEPTED, ev(65, "declined", "dispatched", "accepted"))
    c = clocks(t, 70)["respond"]
    assert c.running
    assert left(c.operational) == 5 and not c.operational.breached     # 5 min before 接单, 5 since the decline
    assert left(c.regulatory) == -55 and c.regulatory.breached          # BR-9 counts from the report


# ---- arrive (BR-10: inside a unit within 20 min) ---------------------------------------------------------------

def test_arrive_runs_until_the_technician_is_on_site():
    t = ticket(ACCEPTED)
    assert left(clocks(t, 12)["arrive"].operational) == 8
    assert clocks(t, 21)["arrive"].operational.breached
    t = ticket(ACCEPTED, ev(18, "arrived", "on_site", "accepted"))
    c = clocks(t, 120)["arrive"]
    assert c.operational.stopped_at == at(18) and left(c.operational) == 2 and not c.operational.breached
    assert c.regulatory.stopped_at == at(18)
    # emergency in a public area: no arrival clock (BR-9 names respond and finish only)
    assert "arrive" not in clocks(ticket(ACCEPTED, area="public"), 12)


# ---- finish, and the pauses of the operational clock -----------------------------------------------------------

@pytest.mark.parametrize("answer, to", [
    ("quote_agreed", "quote_accepted"), ("quote_declined", "rejected"), ("waiver_approved", "quote_accepted"),
])
def test_a_quote_awaiting_the_resident_pauses_the_operational_clock_only(answer, to):
    quoted = ev(30, "quoted", "quoted", "on_site")
    t = ticket(ACCEPTED, ARRIVED, quoted)
    c = clocks(t, 90)["finish"]
    assert c.operational.paused and c.operational.paused_for == "quote"                 # BR-13
    assert left(c.operational) == 90 and c.operational.due_at == at(90 + 90)           # as if it resumed now
    assert not c.regulatory.paused and left(c.regulatory) == 30
    t = ticket(ACCEPTED, ARRIVED, quoted, ev(100, answer, to, "quoted"))
    c = clocks(t, 130)["finish"]
    assert not c.operational.paused and left(c.operational) == 60 and not c.operational.breached
    assert c.regulatory.breached and left(c.regulatory) == -10     # 2 h from the report, whoever waited


@pytest.mark.parametrize("answer", ["visit_agreed", "visit_declined"])
def test_a_proposed_visit_time_pauses_until_the_resident_answers(answer):
    proposed = ev(10, "reschedule_proposed", "accepted", "accepted")
    t = ticket(ACCEPTED, proposed, category="daily")
    c = clocks(t, 60)
    for kind in ("arrive", "finish"):
        assert c[kind].operational.paused and c[kind].operational.paused_for == "visit"    # BR-12
    assert left(c["arrive"].operational) == 10 and c["arrive"].regulatory.breached
    t = ticket(ACCEPTED, proposed, ev(70, answer, "accepted", "accepted"), category="daily")
    c = clocks(t, 75)["arrive"]
    assert not c.operational.paused and left(c.operational) == 5


def test_an_agreed_later_visit_time_pauses_arrive_until_that_time():
    t = ticket(ACCEPTED, category="daily", visit_at=at(180))          # 明天/下午 — the resident chose it
    c = clocks(t, 60)
    arrive = c["arrive"].operational
    assert arrive.paused and arrive.paused_for == "visit_time" and left(arrive) == 20
    assert arrive.due_at == at(200)                     # the visit time is known: due 20 min after it
    assert c["arrive"].regulatory.breached              # the rule counts from the report all the same
    assert c["finish"].operational.paused_for == "visit_time"
    assert c["respond"].operational.stopped_at == at(5) and not c["respond"].operational.paused
    assert left(clocks(t, 190)["arrive"].operational) == 10 and not clocks(t, 190)["arrive"].operational.paused
    assert clocks(t, 201)["arrive"].operational.breached


def test_a_visit_time_agreed_after_a_proposal_pauses_from_the_agreement():
    t = ticket(ACCEPTED, ev(10, "reschedule_proposed", "accepted", "accepted"),
               ev(20, "visit_agreed", "accepted", "accepted"), category="daily", visit_at=at(120))
    c = clocks(t, 130)["arrive"]
    # ran 0–10, waited for the answer 10–20, for the agreed time 20–120, ran again 120–130
    assert left(c.operational) == 0 and not c.operational.breached
    assert left(c.regulatory) == -110


def test_arriving_before_the_agreed_time_ends_the_wait():
    t = ticket(ACCEPTED, ev(100, "arrived", "on_site", "accepted"), category="daily", visit_at=at(180))
    finish = clocks(t, 130)["finish"].operational
    assert not finish.paused and left(finish) == 24 * 60 - 30     # counted 0–0 (waiting) and 100–130


def test_a_hold_for_parts_pauses_until_resumed():
    held = ev(30, "held", "on_hold", "on_site")
    t = ticket(ACCEPTED, ARRIVED, held)
    c = clocks(t, 200)["finish"]
    assert c.operational.paused and c.operational.paused_for == "hold" and left(c.operational) == 90   # BR-18
    assert c.regulatory.breached and left(c.regulatory) == -80
    t = ticket(ACCEPTED, ARRIVED, held, ev(210, "resumed", "on_site", "on_hold"))
    c = clocks(t, 220)["finish"]
    assert not c.operational.paused and left(c.operational) == 80 and c.operational.due_at == at(300)


def test_a_hold_ends_when_the_job_is_handed_on():
    t = ticket(ACCEPTED, ARRIVED, ev(30, "held", "on_hold", "on_site"),
               ev(60, "reassigned", "accepted", "on_hold"))
    assert not clocks(t, 70)["finish"].operational.paused
    assert left(clocks(t, 70)["finish"].operational) == 120 - 40


def test_finish_stops_at_completion_and_runs_again_on_rework():
    done = ev(60, "completed", "completed", "on_site")
    t = ticket(ACCEPTED, ARRIVED, done, category="daily", area="public")
    c = clocks(t, 100)["finish"]
    assert c.operational.stopped_at == at(60) and not c.operational.breached
    t = ticket(ACCEPTED, ARRIVED, done, ev(120, "verify_failed", "rework", "completed"), category="daily",
               area="public")
    c = clocks(t, 130)["finish"]
    assert c.running and left(c.operational) == 24 * 60 - 70          # BR-21: back for rework
    assert c.regulatory.due_at == at(24 * 60)
    t.events.append(ev(200, "completed", "completed", "rework"))
    t.status = "completed"
    assert clocks(t, 300)["finish"].operational.stopped_at == at(200)


def test_cancelling_stops_every_clock():
    t = ticket(ACCEPTED, ev(8, "cancelled", "cancelled", "accepted"))
    c = clocks(t, 500)
    assert all(clock.operational.stopped_at == at(8) for kind, clock in c.items() if kind != "respond")
    assert c["respond"].operational.stopped_at == at(5)
    assert not any(clock.operational.breached for clock in c.values())


def test_a_change_whose_event_is_not_loaded_yet_counts_from_now():
    t = ticket(status="accepted")       # accepted in this unit of work, its event not in the collection
    assert clocks(t, 7)["respond"].operational.stopped_at == at(7)


# ---- the ticket's JSON and the job card's line ----------------------------------------------------------------

def test_the_json_keeps_the_contract_keys_with_the_regulatory_view_inside():
    t = ticket(ACCEPTED, ARRIVED, ev(30, "held", "on_hold", "on_site"))
    out = clocks_json(t, at(40), SLA, TZ)
    finish = out["finish"]
    assert {"due_at", "left_seconds", "paused", "breached"} <= set(finish)
    assert finish["paused"] is True and finish["paused_for"] == "hold" and finish["left_seconds"] == 90 * 60
    assert finish["due_at"] == at(130).isoformat() and finish["limit_seconds"] == 7200
    assert finish["regulatory"] == {"due_at": at(120).isoformat(), "left_seconds": 80 * 60, "paused": False,
                                    "breached": False}
    assert out["respond"]["stopped_at"] == at(5).isoformat() and out["respond"]["regulatory"]["stopped_at"]


@pytest.fixture(scope="module")
def texts():
    return Texts()


def test_the_card_line_shows_the_most_urgent_running_clock(texts):
    t = ticket()                                               # respond (15 min) is the tightest
    assert card_clock(t, at(3)).kind == "respond"
    assert clock_line(t, at(3), texts) == "剩余 12 分钟接单"
    assert clock_line(t, at(20), texts) == "接单已超时 5 分钟"
    t = ticket(ACCEPTED)
    assert clock_line(t, at(8), texts) == "剩余 12 分钟到场"
    t = ticket(ACCEPTED, ARRIVED)
    assert clock_line(t, at(35), texts) == "剩余 1 小时 25 分钟完工"
    assert clock_line(t, at(200), texts) == "完工已超时 1 小时 20 分钟"
    t = ticket(ACCEPTED, ARRIVED, category="daily", area="public")
    assert clock_line(t, at(60), texts) == "剩余 23 小时完工"
    assert clock_line(t, at(60 * 75 + 1), texts) == "完工已超时 2 天 3 小时"


def test_the_card_line_says_why_a_clock_stands_still(texts):
    t = ticket(ACCEPTED, ARRIVED, ev(30, "held", "on_hold", "on_site"))
    assert clock_line(t, at(60), texts) == "完工计时暂停（暂停待料/厂家），剩余 1 小时 30 分钟"
    assert clock_line(t, at(200), texts) == \
        "完工计时暂停（暂停待料/厂家），剩余 1 小时 30 分钟（按制度时限已超时）"
    t = ticket(ACCEPTED, ARRIVED, ev(30, "quoted", "quoted", "on_site"))
    assert "等业主答复报价" in clock_line(t, at(60), texts)


def test_no_line_once_every_clock_has_stopped(texts):
    t = ticket(ACCEPTED, ARRIVED, ev(60, "completed", "completed", "on_site"))
    assert clock_line(t, at(61), texts) == ""
    assert clock_line(ticket(category="planned"), at(1), texts) == ""


# ---- through the service: GET /api/v1/tickets/{n} as the injected clock moves ---------------------------------

STAFF = [{"name": "张师傅", "role": "technician", "trades": ["plumbing"], "phone": "13800000001", "sim_user": "zhangsan"}]


@pytest.fixture
async def service(aiohttp_client, make_settings, clock, backend):
    settings = make_settings(staff=STAFF, trades=[{"key": "plumbing", "name": "水"}])
    client = await aiohttp_client(create_app(settings, clock=clock, run_background=False,
                                             redis_prefix=backend.prefix))
    return client


async def test_the_api_shows_the_clocks_moving_with_the_clock(service, clock):
    sim = Sim(service)
    for line in ("3栋2单元1502厨房水龙头漏水", "刘女士 13912345678", "确认"):
        replies = await sim.say("resident", line)
    number = replies[0].split("单号 ")[1].split()[0]
    t = await sim.ticket(number)
    assert (t["category"], t["area"]) == ("daily", "unit")
    assert set(t["clocks"]) == {"respond", "arrive", "finish"}
    assert t["clocks"]["respond"]["left_seconds"] == 1200 and not t["clocks"]["respond"]["breached"]

    clock.advance(600)
    t = await sim.ticket(number)
    assert t["clocks"]["respond"]["left_seconds"] == 600
    assert t["clocks"]["finish"]["regulatory"]["left_seconds"] == 86400 - 600
    listed = (await sim.tickets())[0]
    assert listed["number"] == number and listed["clocks"]["respond"]["left_seconds"] == 600

    services = services_of(service.app)
    async with services.sessions() as session, session.begin():
        result = await act(session, number, "accept", "sim", "zhangsan", clock.now(), None, policy=services.policy)
        assert result.outcome == "ok"
    clock.advance(900)                                          # 25 min after the report, nobody on site
    t = await sim.ticket(number)
    respond, arrive = t["clocks"]["respond"], t["clocks"]["arrive"]
    assert respond["stopped_at"] and respond["left_seconds"] == 600 and not respond["breached"]
    assert arrive["breached"] and arrive["left_seconds"] == -300 and arrive["regulatory"]["breached"]   # BR-10
    assert t["clocks"]["finish"]["left_seconds"] == 86400 - 1500


async def test_the_api_shows_an_agreed_visit_time_pausing_arrival(service, clock):
    resp = await service.post("/api/v1/tickets", headers=auth(), json={
        "description": "卫生间下水道堵了", "location": "3栋2单元1502", "area": "unit", "category": "daily",
        "trade": "plumbing", "reporter_name": "王女士", "phone": "13812345678", "visit_text": "今天下午3点"})
    assert resp.status == 201, await resp.text()
    number = (await resp.json())["number"]
    clock.advance(3600)                                         # 11:00, the visit is at 15:00
    arrive = (await Sim(service).ticket(number))["clocks"]["arrive"]
    assert arrive["paused"] and arrive["paused_for"] == "visit_time" and arrive["left_seconds"] == 1200
    assert datetime.fromisoformat(arrive["due_at"]) == START.replace(hour=15, minute=20)   # 20 min after it
    assert arrive["regulatory"]["breached"]
