"""Reports (BR-28, BR-29): the figures of a period, the finance cut-off on the 21st, ISO weeks, and the
registers as XLSX adding up to the same totals as the JSON."""
from __future__ import annotations

import io
import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.api.report_workbook import GROUP_COLUMNS, layout, write_workbook
from bot.app import create_app
from bot.services import services_of
from dispatch.actions import act
from dispatch.reports import BadPeriod, current_period, percentile, period_of, report
from store.models import Person, Ticket
from tests.conftest import START, Sim, auth

TZ = ZoneInfo("Asia/Shanghai")
_seq = itertools.count(1)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


def ticket(created: datetime, status: str, *, area: str = "unit", category: str = "daily", trade: str = "plumbing",
           assignee: Person | None = None, respond: int | None = None, arrive: int | None = None,
           finish: int | None = None, **columns) -> Ticket:
    """A ticket reported at `created`, accepted / arrived / completed that many seconds later."""
    n = next(_seq)
    after = lambda s: created + timedelta(seconds=s) if s is not None else None  # noqa: E731
    return Ticket(number=f"BX{created:%Y%m%d}-{n:04d}", status=status, area=area, location=f"3栋{n}号",
                  location_key=f"3-{n}", building="3栋", reporter_name="刘女士", phone="13912345678",
                  description="水龙头漏水", category=category, trade=trade, channel="sim",
                  assignee_id=assignee.id if assignee else None, created_at=created,
                  accepted_at=after(respond), arrived_at=after(arrive), completed_at=after(finish), **columns)


@pytest.fixture
async def services(client):
    return services_of(client.app)


async def add(services, *rows) -> None:
    async with services.sessions() as session, session.begin():
        session.add_all(rows)


async def people(services) -> tuple[Person, Person, Person]:
    made = [Person(name=n, role="technician", trades=[t], created_at=START) for n, t in
            (("张师傅", "plumbing"), ("李师傅", "electrical"), ("王师傅", "civil"))]
    await add(services, *made)
    return tuple(made)


async def seed_november(services) -> dict[str, Ticket]:
    """Eight tickets reported in November 2026 (the clock stands at 11-29 10:00), and two just outside it."""
    zhang, li, wang = await people(services)
    t = {
        # emergency in a unit: every clock met; paid 80 元; surveyed and scored
        "A": ticket(local(2026, 11, 2, 9), "closed", category="emergency", assignee=zhang, respond=600, arrive=900,
                    finish=3600, rating=5, survey={"status": "answered", "overall": 5, "quality": 5, "service": 4,
                                                   "communication": 5},
                    quote_status="agreed", quote=Decimal("80"), fee=Decimal("80"),
                    quote_items=[{"name": "更换水龙头", "amount": "80"}], signoff="fixed"),
        # public area, accepted late (30 min > 20), no arrival clock there; verified, not scored
        "B": ticket(local(2026, 11, 3, 10), "verified", area="public", trade="electrical", assignee=li,
                    respond=1800, arrive=3600, finish=7200, signoff="verified"),
        # on hold for parts: arrived late, finish overdue by now
        "C": ticket(local(2026, 11, 10, 8), "on_hold", assignee=zhang, respond=300, arrive=2400,
                    hold_reason="等配件", held_from="on_site"),
        # ten minutes old: every clock still running, none counted
        "D": ticket(local(2026, 11, 29, 9, 50), "dispatched"),
        # cancelled before anyone took it: no clock counted
        "E": ticket(local(2026, 11, 15, 12), "cancelled", area="public", category="emergency", trade="civil"),
        # a warranty repair of A (BR-24), completed, awaiting sign-off
        "G": ticket(local(2026, 11, 5, 9), "closed", area="public", category="planned", trade="civil", assignee=wang,
                    respond=3600, arrive=7200, finish=14400, rating=3, survey={"status": "answered", "overall": 3}),
        # 签免 approved by leadership: free, work still going (finish overdue)
        "H": ticket(local(2026, 11, 12, 14), "quote_accepted", assignee=zhang, respond=600, arrive=900,
                    quote=Decimal("650"), fee=Decimal("0"), quote_status="waived",
                    quote_items=[{"name": "更换存水弯", "amount": "650"}],
                    waiver={"status": "approved", "amount": "650", "payer": "property", "reason": "公共管道老化",
                            "approver": "leadership", "decided_by": "刘总"}),
    }
    t["F"] = ticket(local(2026, 11, 20, 10), "completed", assignee=zhang, respond=600, arrive=1200, finish=3600,
                    warranty_of=t["A"].number)
    outside = [ticket(local(2026, 10, 31, 23, 59, 59), "closed", respond=60, arrive=60, finish=60),
               ticket(local(2026, 12, 1), "submitted")]
    await add(services, *t.values(), *outside)
    return t


async def get_report(client, kind: str, **params):
    resp = await client.get(f"/api/v1/reports/{kind}", params=params, headers=auth())
    assert resp.status == 200, await resp.text()
    return await resp.json()


# ---- periods -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, label, start, end", [
    ("weekly", "2026-W48", (2026, 11, 23), (2026, 11, 30)),        # ISO week: Monday to Monday
    ("weekly", "2026-W01", (2025, 12, 29), (2026, 1, 5)),          # week 1 holds the year's first Thursday
    ("weekly", "2026-W53", (2026, 12, 28), (2027, 1, 4)),          # 2026 has 53 weeks
    ("monthly", "2026-11", (2026, 11, 1), (2026, 12, 1)),
    ("monthly", "2026-12", (2026, 12, 1), (2027, 1, 1)),
    ("finance", "2026-11", (2026, 10, 21), (2026, 11, 21)),        # BR-29: 21st to the 20th 24:00
    ("finance", "2027-01", (2026, 12, 21), (2027, 1, 21)),
])
def test_periods(kind, label, start, end):
    p = period_of(kind, label, TZ)
    assert (p.start, p.end) == (local(*start), local(*end))


@pytest.mark.parametrize("kind, label", [
    ("weekly", "2027-W53"), ("weekly", "2026-W00"), ("weekly", "2026-W54"), ("weekly", "2026-11"),
    ("monthly", "2026-13"), ("monthly", "2026-00"), ("monthly", "2026-W48"), ("monthly", "26-11"),
    ("monthly", "2026-11-01"), ("finance", "0000-01"), ("finance", "２０２６-11"), ("monthly", ""),
])
def test_bad_periods(kind, label):
    with pytest.raises(BadPeriod):
        period_of(kind, label, TZ)


@pytest.mark.parametrize("now, weekly, monthly, finance", [
    (local(2026, 11, 29, 10), "2026-W48", "2026-11", "2026-12"),   # past the 20th: December's cut-off
    (local(2026, 11, 20, 23, 59), "2026-W47", "2026-11", "2026-11"),
    (local(2026, 12, 21), "2026-W52", "2026-12", "2027-01"),
    (local(2027, 1, 1), "2026-W53", "2027-01", "2027-01"),
])
def test_the_current_period(now, weekly, monthly, finance):
    assert [current_period(k, now, TZ).label for k in ("weekly", "monthly", "finance")] == [weekly, monthly, finance]


def test_percentile_is_the_nearest_rank():
    assert percentile([300, 600, 600, 600, 1800, 3600]) == 3600
    assert percentile(list(range(1, 11))) == 9
    assert percentile([]) is None


# ---- the figures -------------------------------------------------------------------------------------------

async def test_monthly_figures_of_a_seeded_month(client, services):
    await seed_november(services)
    r = await get_report(client, "monthly", period="2026-11")
    assert (r["period"], r["start"], r["end"]) == ("2026-11", "2026-11-01T00:00:00+08:00", "2026-12-01T00:00:00+08:00")
    t = r["totals"]
    # BR-28: issued, completed, unfinished and their ratios
    assert (t["issued"], t["completed"], t["unfinished"], t["cancelled"]) == (8, 4, 3, 1)
    assert (t["completion_rate"], t["unfinished_rate"], t["cancelled_rate"]) == (0.5, 0.375, 0.125)
    # ... and why the unfinished ones are not done: a hold's reason, else the status
    assert r["unfinished_reasons"] == [{"status": "dispatched", "reason": "dispatched", "count": 1},
                                       {"status": "quote_accepted", "reason": "quote_accepted", "count": 1},
                                       {"status": "on_hold", "reason": "等配件", "count": 1}]
    # mean and p90 from the report: 接单 (respond), 到场 (arrive), 完工 (finish, only while it stays finished)
    assert t["times"] == {
        "respond": {"count": 6, "mean_seconds": 1250.0, "p90_seconds": 3600.0},
        "arrive": {"count": 6, "mean_seconds": 2700.0, "p90_seconds": 7200.0},
        "finish": {"count": 4, "mean_seconds": 7200.0, "p90_seconds": 14400.0},
    }
    # [sla]: emergency 15 min / 2 h (BR-9), into a unit 20 min (BR-10), daily 20 min / 24 h; planned work and
    # cancelled tickets have none, a clock still inside its limit is not counted yet
    assert t["sla"] == {"respond": {"met": 4, "breached": 1, "compliance": 0.8},
                        "arrive": {"met": 3, "breached": 1, "compliance": 0.75},
                        "finish": {"met": 3, "breached": 2, "compliance": 0.6}}
    # BR-26: surveyed = verified or closed; answered = scored
    assert t["survey"] == {"surveyed": 3, "answered": 2, "response_rate": 0.6667, "overall": 4.0,
                           "quality": 5.0, "service": 4.0, "communication": 5.0}
    assert t["warranty"] == {"rework": 1, "rate": 0.25}         # BR-24: one in four completed came back
    assert "finance" not in r


async def test_figures_by_trade_and_by_technician(client, services):
    await seed_november(services)
    r = await get_report(client, "monthly", period="2026-11")
    trades = {g["trade"]: g for g in r["by_trade"]}
    assert [g["trade"] for g in r["by_trade"]] == ["plumbing", "electrical", "civil"]   # the trades' own order
    assert (trades["plumbing"]["issued"], trades["plumbing"]["completed"], trades["plumbing"]["unfinished"]) == (5, 2, 3)
    assert trades["plumbing"]["times"]["respond"] == {"count": 4, "mean_seconds": 525.0, "p90_seconds": 600.0}
    assert (trades["civil"]["issued"], trades["civil"]["cancelled"], trades["civil"]["completed"]) == (2, 1, 1)
    assert trades["electrical"]["sla"]["respond"] == {"met": 0, "breached": 1, "compliance": 0.0}
    techs = {g["name"]: g for g in r["by_technician"]}
    assert set(techs) == {"张师傅", "李师傅", "王师傅", None}
    assert (techs["张师傅"]["issued"], techs["张师傅"]["completed"], techs["张师傅"]["warranty"]["rework"]) == (4, 2, 1)
    assert techs["张师傅"]["times"]["finish"] == {"count": 2, "mean_seconds": 3600.0, "p90_seconds": 3600.0}
    assert techs[None]["person_id"] is None and techs[None]["issued"] == 2    # nobody took D, E
    assert r["by_technician"][-1]["name"] is None                             # the unassigned come last
    assert sum(g["issued"] for g in r["by_technician"]) == sum(g["issued"] for g in r["by_trade"]) == 8


async def test_finance_period_paid_fees_and_waivers(client, services):
    t = await seed_november(services)
    r = await get_report(client, "finance", period="2026-11")
    assert (r["start"], r["end"]) == ("2026-10-21T00:00:00+08:00", "2026-11-21T00:00:00+08:00")
    # 10-31 is inside (21 Oct – 20 Nov); D (29 Nov) is not
    assert r["totals"]["issued"] == 8
    fin = r["finance"]
    assert fin["paid"] == {"count": 1, "total": "80.00", "by_trade": [{"trade": "plumbing", "count": 1, "total": "80.00"}]}
    assert fin["waivers"]["count"] == 1 and fin["waivers"]["total"] == "650.00"
    assert fin["waivers"]["by_payer"] == [{"payer": "property", "count": 1, "total": "650.00"}]
    item = fin["waivers"]["items"][0]
    assert (item["number"], item["amount"], item["payer"], item["reason"], item["approver"], item["decided_by"]) == (
        t["H"].number, "650.00", "property", "公共管道老化", "leadership", "刘总")


async def test_the_finance_boundary_counts_each_ticket_once(client, services):
    """BR-29: 20th 23:59 closes November's cut-off, the 21st 00:00 opens December's; neither is lost or doubled."""
    late = ticket(local(2026, 11, 20, 23, 59), "submitted")
    early = ticket(local(2026, 11, 21, 0, 0), "submitted")
    edge = ticket(local(2026, 10, 21, 0, 0), "submitted")
    await add(services, late, early, edge)
    counts = {}
    for label in ("2026-10", "2026-11", "2026-12"):
        r = await get_report(client, "finance", period=label)
        counts[label] = r["totals"]["issued"]
    assert counts == {"2026-10": 0, "2026-11": 2, "2026-12": 1}
    # the registers say the same: the right ticket in the right period
    resp = await client.get("/api/v1/reports/finance", params={"period": "2026-12", "format": "xlsx"}, headers=auth())
    numbers = [row[1] for row in register_rows(await workbook(resp), "unit")]
    assert numbers == [early.number]


async def test_iso_week_boundaries(client, services):
    sunday_night = ticket(local(2026, 11, 29, 23, 59, 59), "submitted")
    monday = ticket(local(2026, 11, 30, 0, 0), "submitted")
    monday_before = ticket(local(2026, 11, 23, 0, 0), "submitted")
    new_year = ticket(local(2027, 1, 3, 12), "submitted")                # Sunday: still 2026-W53
    await add(services, sunday_night, monday, monday_before, new_year)
    issued = {w: (await get_report(client, "weekly", period=w))["totals"]["issued"]
              for w in ("2026-W47", "2026-W48", "2026-W49", "2026-W53", "2027-W01")}
    assert issued == {"2026-W47": 0, "2026-W48": 2, "2026-W49": 1, "2026-W53": 1, "2027-W01": 0}


async def test_an_empty_period_has_zeros_and_no_ratios(client):
    r = await get_report(client, "weekly")
    assert r["period"] == "2026-W48"                       # the clock's week when no period is given
    t = r["totals"]
    assert (t["issued"], t["completion_rate"], t["times"]["respond"]["mean_seconds"], t["sla"]["finish"]["compliance"],
            t["survey"]["response_rate"]) == (0, None, None, None, None)
    assert r["by_trade"] == [] and r["by_technician"] == [] and r["unfinished_reasons"] == []


async def test_bad_requests(client):
    for kind, params in (("monthly", {"period": "2026-13"}), ("weekly", {"period": "2026-11"}),
                         ("finance", {"period": "2027-W53"}), ("weekly", {"period": "2027-W53"})):
        resp = await client.get(f"/api/v1/reports/{kind}", params=params, headers=auth())
        assert resp.status == 400
        body = await resp.json()
        assert body["error"]["code"] == "bad_period" and body["error"]["field"] == "period"
        assert "2026-W48" in body["error"]["message"]           # says how to write one
    for params, field in (({"format": "pdf"}, "format"), ({"register": "unit"}, "register"),
                          ({"format": "xlsx", "register": "both"}, "register")):
        resp = await client.get("/api/v1/reports/monthly", params=params, headers=auth())
        assert resp.status == 400 and (await resp.json())["error"]["field"] == field
    assert (await client.get("/api/v1/reports/daily", headers=auth())).status == 404
    assert (await client.get("/api/v1/reports/monthly")).status == 401       # bearer token like every /api/v1


# ---- the workbook -------------------------------------------------------------------------------------------

async def workbook(resp):
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert "attachment" in resp.headers["Content-Disposition"]
    return load_workbook(io.BytesIO(await resp.read()))


def register_rows(wb, key: str) -> list[tuple]:
    """The data rows of a register: under the heading and the header, above the 合计 line."""
    rows = list(wb[layout()["sheets"][key]].iter_rows(values_only=True))
    assert rows[1] == tuple(c["title"] for c in layout()[key])
    assert rows[-1][0] == layout()["words"]["total"]
    return rows[2:-1]


def summary_values(wb) -> dict[str, object]:
    """The summary's label → value lines (first occurrence: the totals before the tables)."""
    by_label = {v: k for k, v in layout()["summary"].items()}
    out: dict[str, object] = {}
    for row in wb[layout()["sheets"]["summary"]].iter_rows(values_only=True):
        if row and row[0] in by_label and by_label[row[0]] not in out:
            out[by_label[row[0]]] = row[1]
    return out


def approx(v, expected, minutes: bool = False):
    if expected is None:
        return v is None
    return v == pytest.approx(round(expected / 60, 1) if minutes else expected)


async def test_the_workbook_adds_up_to_the_api(client, services):
    t = await seed_november(services)
    api = await get_report(client, "finance", period="2026-11")
    resp = await client.get("/api/v1/reports/finance", params={"period": "2026-11", "format": "xlsx"}, headers=auth())
    wb = await workbook(resp)
    names = layout()["sheets"]
    assert wb.sheetnames == [names["summary"], names["public"], names["unit"]]
    public, unit = register_rows(wb, "public"), register_rows(wb, "unit")
    # every ticket of the period on one register: public areas on one, units (有偿) on the other
    assert len(public) + len(unit) == api["totals"]["issued"]
    assert sorted(r[1] for r in public) == sorted(x.number for x in t.values() if x.area == "public"
                                                  and x.created_at < local(2026, 11, 21))
    s = summary_values(wb)
    tot = api["totals"]
    for key in ("issued", "completed", "unfinished", "cancelled"):
        assert s[key] == tot[key], key
    assert approx(s["completion_rate"], tot["completion_rate"])
    for k in ("respond", "arrive", "finish"):
        assert approx(s[f"{k}_mean"], tot["times"][k]["mean_seconds"], minutes=True)
        assert approx(s[f"{k}_p90"], tot["times"][k]["p90_seconds"], minutes=True)
        assert approx(s[f"{k}_sla"], tot["sla"][k]["compliance"])
    assert (s["surveyed"], s["answered"], s["overall"]) == (tot["survey"]["surveyed"], tot["survey"]["answered"],
                                                           tot["survey"]["overall"])
    assert (s["warranty"], s["warranty_rate"]) == (tot["warranty"]["rework"], tot["warranty"]["rate"])
    # money: the summary's totals, and the unit register's 合计 line under its fee and waiver columns
    fin = api["finance"]
    assert (s["paid_count"], s["waiver_count"]) == (fin["paid"]["count"], fin["waivers"]["count"])
    assert Decimal(str(s["paid_total"])) == Decimal(fin["paid"]["total"]) == Decimal("80")
    assert Decimal(str(s["waiver_total"])) == Decimal(fin["waivers"]["total"]) == Decimal("650")
    keys = [c["key"] for c in layout()["unit"]]
    last = list(wb[names["unit"]].iter_rows(values_only=True))[-1]
    assert last[1] == len(unit)
    assert Decimal(str(last[keys.index("fee")])) == Decimal("80")
    assert Decimal(str(last[keys.index("waiver_amount")])) == Decimal("650")
    assert sum(Decimal(str(r[keys.index("fee")] or 0)) for r in unit) == Decimal("80")
    # a register row as the paper one reads: labels, local times, a masked phone, the hold's reason
    row = next(r for r in unit if r[1] == t["C"].number)
    cols = dict(zip(keys, row))
    assert cols["created_at"] == datetime(2026, 11, 10, 8, 0)
    assert cols["trade"] == "水" and cols["status"] == "暂停（待料/厂家）" and cols["unfinished_reason"] == "等配件"
    assert cols["phone"] == "139****5678" and cols["respond_minutes"] == 5.0
    row = dict(zip(keys, next(r for r in unit if r[1] == t["H"].number)))
    assert (row["waiver_payer"], row["waiver_reason"], row["waiver_approver"]) == ("物业承担", "公共管道老化", "公司领导 刘总")


async def test_one_register_alone(client, services):
    await seed_november(services)
    resp = await client.get("/api/v1/reports/monthly", params={"period": "2026-11", "format": "xlsx",
                                                               "register": "public"}, headers=auth())
    wb = await workbook(resp)
    assert wb.sheetnames == [layout()["sheets"]["summary"], layout()["sheets"]["public"]]
    assert len(register_rows(wb, "public")) == 3          # B, E, G
    summary = list(wb[layout()["sheets"]["summary"]].iter_rows(values_only=True))
    tables = [r for r in summary if r and r[0] == layout()["headers"]["trade"]]
    assert tables and tables[0][1:] == tuple(layout()["summary"][k] for k in GROUP_COLUMNS)


async def test_the_workbook_streams_in_batches(client, services, tmp_path):
    """Batches of two rows: every ticket written once, in report order, whatever the batch size."""
    await seed_november(services)
    now = services.clock.now()
    period = period_of("monthly", "2026-11", TZ)
    with open(tmp_path / "r.xlsx", "wb") as out:
        async with services.sessions() as session:
            body = await report(session, period, now, sla=services.settings.sla, tz=TZ)
            written = await write_workbook(out, session, body, period, services.texts, TZ, batch=2)
    assert written == {"public": 3, "unit": 5}
    wb = load_workbook(tmp_path / "r.xlsx")
    numbers = []
    for key in ("public", "unit"):
        rows = register_rows(wb, key)
        assert [r[2] for r in rows] == sorted(r[2] for r in rows)
        numbers += [r[1] for r in rows]
    assert len(numbers) == len(set(numbers)) == 8


def test_every_column_of_the_layout_has_a_value():
    """A header in columns.toml the code does not fill would stay empty on every row."""
    from types import SimpleNamespace as NS
    from bot.api.report_workbook import _Register
    from templates.texts import Texts

    row = NS(**{c: None for c in ("number", "created_at", "building", "location", "description", "reporter_name",
                                  "phone", "channel", "category", "trade", "assignee", "accepted_at", "arrived_at",
                                  "completed_at", "status", "hold_reason", "signoff", "verified_at", "rating",
                                  "warranty_of", "materials", "work_minutes", "completion_note", "quote_items",
                                  "quote", "quote_status", "fee", "waiver")})
    for key in ("public", "unit"):
        reg = _Register(None, key, Texts(), TZ)
        assert len(reg.values(row)) == len(layout()[key])
        assert all(len(name) <= 31 for name in layout()["sheets"].values())   # Excel's limit on a sheet name


# ---- through the real actions ----------------------------------------------------------------------------------

STAFF = [{"name": "张师傅", "role": "technician", "trades": ["plumbing"], "phone": "13800000001",
          "sim_user": "zhangsan"}]


async def test_a_job_done_through_the_actions_shows_in_the_week(aiohttp_client, make_settings, clock, backend):
    """Reported in chat, accepted after 5 min, on site after 15, completed after 75: the week's figures say so."""
    settings = make_settings(staff=STAFF, trades=[{"key": "plumbing", "name": "水"}])
    client = await aiohttp_client(create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix))
    services, sim = services_of(client.app), Sim(client)
    for line in ("3栋2单元1502厨房水龙头漏水", "刘女士 13912345678", "确认"):
        replies = await sim.say("resident", line)
    number = replies[0].split("单号 ")[1].split()[0]

    async def do(action: str, body: dict | None = None) -> None:
        async with services.sessions() as session, session.begin():
            result = await act(session, number, action, "sim", "zhangsan", clock.now(), body, policy=services.policy)
        assert result.outcome == "ok", result

    for minutes, action in ((5, "accept"), (10, "arrive"), (60, "complete")):
        clock.advance(minutes=minutes)
        await do(action)
    r = await get_report(client, "weekly", period="2026-W48")
    t = r["totals"]
    assert (t["issued"], t["completed"], t["unfinished"]) == (1, 1, 0)
    assert {k: v["mean_seconds"] for k, v in t["times"].items()} == {"respond": 300.0, "arrive": 900.0,
                                                                    "finish": 4500.0}
    assert r["by_technician"][0]["name"] == "张师傅"
