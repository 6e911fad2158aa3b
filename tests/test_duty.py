"""The duty roster (BR-3): who holds the desk by the clock and mainland China's working calendar, with the
calendar in the database, editable, and a provisional year announced (log, /readyz, metric)."""
from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot.app import create_app
from bot.cli import main
from dispatch.calendar_days import calendar_day, computed_day, seed_calendar
from dispatch.duty import Duty, next_change
from store.db import make_database, make_sessionmaker
from store.models import CalendarDay, CalendarYear
from tests.conftest import auth

TZ = ZoneInfo("Asia/Shanghai")
STAFF = [
    {"name": "前台小李", "role": "desk", "phone": "13800000011", "sim_user": "desk1"},
    {"name": "中控老周", "role": "control", "phone": "13800000012", "sim_user": "control1"},
    {"name": "管家小陈", "role": "housekeeper", "phone": "13800000013", "sim_user": "keeper1"},
    {"name": "张师傅", "role": "technician", "trades": ["plumbing"], "sim_user": "zhangsan"},
]
TRADES = [{"key": "plumbing", "name": "水"}]
NAMES = {"desk": "前台小李", "control": "中控老周", "housekeeper": "管家小陈"}


def at(*args) -> datetime:
    return datetime(*args, tzinfo=TZ)


@pytest.fixture
def start(aiohttp_client, make_settings, clock, backend):
    """Start the service (again) on the same database; the previous one stops first."""
    running = []

    async def start_(**config):
        while running:
            await running.pop().close()
        config = {"staff": STAFF, "trades": TRADES, **config}
        app = create_app(make_settings(**config), clock=clock, run_background=False, redis_prefix=backend.prefix)
        client = await aiohttp_client(app)
        running.append(client)
        return client
    return start_


async def desk(client, clock, when: datetime) -> dict:
    clock.set(when)
    resp = await client.get("/api/v1/duty", headers=auth())
    assert resp.status == 200, await resp.text()
    return await resp.json()


# ---- who holds the desk -------------------------------------------------------------------------------------

@pytest.mark.parametrize("when, role, until", [
    (at(2026, 11, 27, 17, 59), "desk", at(2026, 11, 27, 18, 0)),          # Friday, the last minute of the day
    (at(2026, 11, 27, 18, 0), "control", at(2026, 11, 28, 9, 0)),         # Friday 18:00: central control
    (at(2026, 11, 28, 10, 0), "housekeeper", at(2026, 11, 28, 18, 0)),    # Saturday
    (at(2026, 11, 28, 18, 30), "control", at(2026, 11, 29, 9, 0)),        # a weekend night
    (at(2026, 10, 1, 10, 0), "housekeeper", at(2026, 10, 1, 18, 0)),      # 国庆节, a Thursday
    (at(2026, 10, 6, 11, 0), "housekeeper", at(2026, 10, 6, 18, 0)),      # a weekday given off in lieu
    (at(2026, 10, 10, 10, 0), "desk", at(2026, 10, 10, 18, 0)),           # 调休: a Saturday worked for 国庆节
    (at(2026, 9, 20, 9, 0), "desk", at(2026, 9, 20, 18, 0)),              # 调休 on a Sunday, from 09:00 sharp
    (at(2026, 11, 30, 8, 59), "control", at(2026, 11, 30, 9, 0)),         # Monday before the front desk opens
    (at(2026, 9, 30, 20, 0), "control", at(2026, 10, 1, 9, 0)),           # the night before a holiday
    (at(2026, 10, 8, 7, 0), "control", at(2026, 10, 8, 9, 0)),            # the morning after it
])
async def test_the_desk_by_the_clock_and_the_calendar(start, clock, when, role, until):
    """BR-3: working days' day hours the front desk, every night central control, the day hours of
    weekends and public holidays the housekeeper; a 调休 weekend day is a working day."""
    client = await start()
    shift = await desk(client, clock, when)
    assert shift["role"] == role
    assert [p["name"] for p in shift["people"]] == [NAMES[role]]
    assert shift["ends_at"] == shift["next_change"] == until.isoformat()
    assert shift["provisional"] is False


async def test_a_holiday_names_itself_and_the_shift_knows_its_bounds(start, clock):
    client = await start()
    shift = await desk(client, clock, at(2026, 10, 1, 10, 0))
    assert shift["day"] == {"date": "2026-10-01", "kind": "holiday", "name": "国庆节", "source": "package",
                            "working": False, "provisional": False}
    assert shift["starts_at"] == at(2026, 10, 1, 9, 0).isoformat()
    makeup = await desk(client, clock, at(2026, 10, 10, 10, 0))
    assert makeup["day"]["kind"] == "makeup_workday" and makeup["day"]["name"] == "国庆节"


def test_the_desk_changes_hands_at_every_start_and_end_of_the_day_hours():
    duty = Duty.of("09:00-18:00", "18:00-09:00", "Asia/Shanghai")
    assert next_change(at(2026, 11, 27, 17, 59), duty) == at(2026, 11, 27, 18, 0)
    assert next_change(at(2026, 11, 27, 18, 0), duty) == at(2026, 11, 28, 9, 0)
    assert next_change(at(2026, 11, 28, 10, 0), duty) == at(2026, 11, 28, 18, 0)
    assert next_change(at(2026, 11, 29, 23, 59), duty) == at(2026, 11, 30, 9, 0)
    other = Duty.of("08:30-17:30", "17:30-08:30", "Asia/Shanghai")
    assert next_change(at(2026, 11, 27, 17, 29), other) == at(2026, 11, 27, 17, 30)


async def test_other_hours_from_the_configuration(start, clock):
    client = await start(duty={"front_desk": "08:30-17:30", "central_control": "17:30-08:30"})
    assert (await desk(client, clock, at(2026, 11, 27, 8, 30)))["role"] == "desk"
    assert (await desk(client, clock, at(2026, 11, 27, 17, 30)))["role"] == "control"


async def test_nobody_of_the_role_is_an_empty_list_not_an_error(start, clock):
    client = await start(staff=[s for s in STAFF if s["role"] != "housekeeper"])
    shift = await desk(client, clock, at(2026, 11, 28, 10, 0))
    assert shift["role"] == "housekeeper" and shift["people"] == []


# ---- a year the package does not cover --------------------------------------------------------------------

async def test_a_year_without_package_data_falls_back_to_weekends_and_says_so(start, clock, caplog):
    with caplog.at_level(logging.WARNING, logger="bot.calendar_watch"):
        client = await start()   # the clock reads 2026-11-29: November, and 2027 is not in chinesecalendar 1.11.0
    assert any("2027" in r.getMessage() and "provisional" in r.getMessage() for r in caplog.records)
    new_year = await desk(client, clock, at(2027, 1, 1, 10, 0))        # 元旦 in fact, a Friday
    assert new_year["role"] == "desk" and new_year["provisional"] is True
    assert new_year["day"]["source"] == "weekends"
    saturday = await desk(client, clock, at(2027, 1, 2, 10, 0))
    assert saturday["role"] == "housekeeper" and saturday["provisional"] is True
    assert (await desk(client, clock, at(2027, 1, 1, 20, 0)))["provisional"] is False   # nights need no calendar

    clock.set(at(2026, 11, 29, 10, 0))
    body = await (await client.get("/readyz")).json()
    assert body["status"] == "ok"                        # a warning, not a reason to refuse traffic
    assert body["calendar"]["provisional_years"] == [2027]
    assert any("2027" in w and "PUT /api/v1/calendar" in w for w in body["warnings"])
    assert "repairbot_calendar_provisional_years 1.0" in await (await client.get("/metrics")).text()

    year = await (await client.get("/api/v1/calendar", params={"year": "2027"}, headers=auth())).json()
    assert year["provisional"] is True and year["package_version"] == ""
    assert len(year["days"]) == 365 and {d["source"] for d in year["days"]} == {"weekends"}


async def test_before_november_next_year_is_no_concern_yet(start, clock):
    client = await start()
    clock.set(at(2026, 10, 31, 23, 0))
    body = await (await client.get("/readyz")).json()
    assert body["calendar"]["provisional_years"] == []
    assert not any("calendar" in w for w in body.get("warnings", []))
    assert "repairbot_calendar_provisional_years 0.0" in await (await client.get("/metrics")).text()
    clock.set(at(2026, 11, 1, 0, 0))                    # from November 1st on
    assert (await (await client.get("/readyz")).json())["calendar"]["provisional_years"] == [2027]


async def test_a_confirmed_hand_entered_year_is_no_longer_provisional(start, clock):
    client = await start()
    resp = await client.put("/api/v1/calendar/years/2027", json={"confirmed": True}, headers=auth())
    assert resp.status == 200 and (await resp.json()) == {"year": 2027, "provisional": False}
    body = await (await client.get("/readyz")).json()
    assert body["calendar"]["provisional_years"] == []
    assert "repairbot_calendar_provisional_years 0.0" in await (await client.get("/metrics")).text()
    client = await start()                               # re-seeding keeps the confirmation
    assert (await (await client.get("/readyz")).json())["calendar"]["provisional_years"] == []
    assert (await client.put("/api/v1/calendar/years/2026", json={"confirmed": "yes"}, headers=auth())).status == 400


# ---- editing the calendar ---------------------------------------------------------------------------------

async def test_a_manual_edit_changes_the_desk_and_survives_reseeding(start, clock):
    client = await start()
    resp = await client.put("/api/v1/calendar/2027-01-01", json={"kind": "holiday", "name": "元旦"}, headers=auth())
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["source"] == "manual"
    shift = await desk(client, clock, at(2027, 1, 1, 10, 0))
    assert shift["role"] == "housekeeper" and shift["provisional"] is False and shift["day"]["name"] == "元旦"
    # a working day taken away from a year the package covers
    await client.put("/api/v1/calendar/2026-12-31", json={"kind": "holiday", "name": "公司假日"}, headers=auth())

    clock.set(at(2026, 11, 29, 10, 0))
    client = await start()                               # a restart seeds again
    assert (await desk(client, clock, at(2027, 1, 1, 10, 0)))["role"] == "housekeeper"
    assert (await desk(client, clock, at(2026, 12, 31, 10, 0)))["role"] == "housekeeper"
    year = await (await client.get("/api/v1/calendar", params={"year": "2027"}, headers=auth())).json()
    assert year["days"][0] == {"date": "2027-01-01", "kind": "holiday", "name": "元旦", "source": "manual",
                               "working": False, "provisional": False}

    resp = await client.delete("/api/v1/calendar/2026-12-31", headers=auth())      # undone: the package again
    assert (await resp.json())["source"] == "package"
    assert (await desk(client, clock, at(2026, 12, 31, 10, 0)))["role"] == "desk"


async def test_the_calendar_api_checks_what_it_is_given(start, clock):
    client = await start()
    assert (await client.get("/api/v1/calendar", params={"year": "2026"})).status == 401
    assert (await client.put("/api/v1/calendar/2026-10-01", json={"kind": "workday"})).status == 401
    year = await (await client.get("/api/v1/calendar", params={"year": "2026"}, headers=auth())).json()
    assert year["provisional"] is False and year["package_version"] == "1.11.0" and len(year["days"]) == 365
    by_date = {d["date"]: d for d in year["days"]}
    assert by_date["2026-10-10"]["kind"] == "makeup_workday" and by_date["2026-10-10"]["working"] is True
    assert by_date["2026-02-17"]["name"] == "春节"
    assert (await (await client.get("/api/v1/calendar", headers=auth())).json())["year"] == 2026   # this year
    for params in ({"year": "20x6"}, {"year": "1066"}):
        assert (await client.get("/api/v1/calendar", params=params, headers=auth())).status == 400
    for path, body in (("2026-13-01", {"kind": "holiday"}), ("20261001", {"kind": "holiday"}),
                       ("2026-10-01", {"kind": "festival"}), ("2026-10-01", {}),
                       ("2026-10-01", {"kind": "holiday", "name": 5})):
        resp = await client.put(f"/api/v1/calendar/{path}", json=body, headers=auth())
        assert resp.status == 400, (path, body)
    assert (await client.get("/api/v1/duty", params={"at": "tomorrow"}, headers=auth())).status == 400
    shift = await (await client.get("/api/v1/duty", params={"at": "2026-10-10T10:00"}, headers=auth())).json()
    assert shift["role"] == "desk"


# ---- seeding ----------------------------------------------------------------------------------------------

async def test_seeding_is_idempotent_concurrent_and_follows_the_package(backend):
    database = make_database(backend.db_url)
    sessions = make_sessionmaker(database)
    now = at(2026, 11, 29, 10, 0)
    years = [2025, 2026, 2027]

    async def seed():
        async with sessions() as session, session.begin():
            return await seed_calendar(session, now, years)
    try:
        first, second = await asyncio.gather(seed(), seed())    # two processes starting together
        async with sessions() as session:
            assert (await session.execute(select(func.count()).select_from(CalendarDay))).scalar_one() == 365 * 3
        again = await seed()
        assert (again.inserted, again.updated, again.provisional) == (0, 0, [2027])

        # A year stored when the package did not cover it (weekends only) is brought up to what the package
        # says now; a day set by hand is not.
        async with sessions() as session, session.begin():
            await session.execute(update(CalendarYear).where(CalendarYear.year == 2026)
                                  .values(package_version="", provisional=True))
            await session.execute(update(CalendarDay).where(CalendarDay.day == date(2026, 10, 1))
                                  .values(kind="workday", name="", source="weekends"))
            await session.execute(update(CalendarDay).where(CalendarDay.day == date(2026, 10, 2))
                                  .values(kind="workday", name="", source="manual"))
        report = await seed()
        assert (report.inserted, report.updated, report.provisional) == (0, 1, [2027])
        async with sessions() as session:
            assert (await calendar_day(session, date(2026, 10, 1))).kind == "holiday"
            assert (await calendar_day(session, date(2026, 10, 2))).kind == "workday"
            # a year never seeded reads as seeding would store it
            assert await calendar_day(session, date(2019, 10, 1)) == computed_day(date(2019, 10, 1))
            assert (await calendar_day(session, date(2030, 1, 1))).provisional is True
    finally:
        await database.dispose()


def test_the_package_marks_holidays_in_lieu_days_and_make_up_days():
    assert computed_day(date(2026, 10, 1)).kind == "holiday"
    assert computed_day(date(2026, 10, 7)).kind == "holiday"          # a Wednesday given off in lieu
    assert computed_day(date(2026, 10, 10)).kind == "makeup_workday"  # the Saturday worked for it
    assert computed_day(date(2026, 10, 12)).kind == "workday"
    assert computed_day(date(2026, 10, 11)).kind == "weekend"
    fallback = computed_day(date(2027, 10, 1))                         # not in chinesecalendar 1.11.0
    assert (fallback.kind, fallback.source, fallback.provisional) == ("workday", "weekends", True)


# ---- configuration ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("toml, expected", [
    ('[duty]\nfront_desk = "9-18"\n', "duty.front_desk"),
    ('[duty]\ncentral_control = "18:00-08:00"\n', "must be the rest of the day: 18:00-09:00"),
    ('[duty]\nfront_desk = "18:00-09:00"\ncentral_control = "09:00-18:00"\n', "must start before it ends"),
    ('[duty]\nfront_dsk = "09:00-18:00"\n', "duty.front_dsk: unknown key"),
])
def test_check_config_names_a_bad_duty_section(tmp_path, capsys, toml, expected):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml, encoding="utf-8")
    assert main(["check-config", "--config", str(cfg)]) == 2
    assert expected in capsys.readouterr().err


def test_check_config_warns_of_a_duty_role_nobody_holds(tmp_path, capsys):
    cfg = tmp_path / "ok.toml"
    cfg.write_text('[[staff]]\nname="前台小李"\nrole="desk"\n', encoding="utf-8")
    assert main(["check-config", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "duty desk 09:00-18:00, central control 18:00-09:00" in out
    assert 'role = "control"' in out and 'role = "housekeeper"' in out and 'role = "desk"' not in out


def test_the_calendar_seed_command_keeps_what_it_finds(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "c.db"}"\n', encoding="utf-8")
    assert main(["calendar", "seed", "--config", str(cfg), "--year", "2026"]) == 0
    assert "calendar 2026 from chinesecalendar 1.11.0: 365 days added, 0 updated" in capsys.readouterr().out
    assert main(["calendar", "seed", "--config", str(cfg), "--year", "2026"]) == 0
    assert "0 days added, 0 updated" in capsys.readouterr().out
