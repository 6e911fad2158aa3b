"""The estate's unit list: import (CSV, XLSX, all or nothing), places checked against it, buildings in the API."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.units_cli import import_places
from conversations.unit_list import UnitListError, load_file
from tests.conftest import auth

CSV = """building,unit,room,aliases,kind
3栋,2,1502,B座1502|老干部楼1502,
3栋,2,1501,,
3栋,1,1502,,unit
5栋,1,101,,
3栋,,大堂,3栋门厅、3号楼大厅,public
,,地下车库,,public
,,老年活动中心,老干活动室,public
"""


def write_csv(path: Path, text: str = CSV, bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


@pytest.fixture
async def units(tmp_path, make_settings):
    """The settings of the app under test, with the sample list imported."""
    settings = make_settings()
    await import_places(settings, load_file(write_csv(tmp_path / "units.csv", bom=True)), replace=True)
    return settings


async def _file(sim, user: str, first: str) -> list[str]:
    r = await sim.say(user, first)
    if any("姓名" in t for t in r):
        r = await sim.say(user, "王女士 13812345678")
    return r


# ---- import ---------------------------------------------------------------------------------------------

def test_csv_with_bom_and_aliases_is_read(tmp_path):
    places = load_file(write_csv(tmp_path / "u.csv", bom=True))
    by_label = {p.label: p for p in places}
    assert set(by_label) == {"3栋2单元1502", "3栋2单元1501", "3栋1单元1502", "5栋1单元101", "3栋大堂", "地下车库",
                             "老年活动中心"}
    assert by_label["3栋大堂"].kind == "public" and by_label["3栋大堂"].building == "3栋"
    assert "老干部楼1502" in by_label["3栋2单元1502"].aliases
    assert set(by_label["3栋大堂"].aliases) == {"3栋门厅", "3栋大厅"}   # 、 separates too; 3号楼 is 3栋


def test_xlsx_is_read_like_the_csv(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    for row in [line.split(",") for line in CSV.strip().splitlines()]:
        book.active.append(row)
    book.save(tmp_path / "u.xlsx")
    assert load_file(tmp_path / "u.xlsx") == load_file(write_csv(tmp_path / "u.csv"))


def test_bad_rows_are_named_by_line_and_nothing_is_read(tmp_path):
    bad = CSV + "7栋,1,,,\n,2,301,,\n3栋,2,1502,,\n9栋,1,101,,garage\n"
    with pytest.raises(UnitListError) as e:
        load_file(write_csv(tmp_path / "bad.csv", bad))
    assert [line for line, _ in e.value.problems] == [9, 10, 11, 12]
    assert "line 10" in str(e.value) and "line 2" in str(e.value)  # the repeated room names its first line


def test_cli_refuses_a_bad_file_with_the_line_and_imports_nothing(tmp_path, backend, units):
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\nurl = "{backend.db_url}"\n', encoding="utf-8")
    bad = write_csv(tmp_path / "bad.csv", "building,unit,room\n8栋,1,101\n8栋,1,\n")
    run = subprocess.run([sys.executable, "-m", "bot", "units", "import", str(bad), "--config", str(config),
                          "--replace"], capture_output=True, text=True)
    assert run.returncode == 1 and "line 3" in run.stderr and "nothing imported" in run.stderr
    good = write_csv(tmp_path / "good.csv")
    for _ in range(2):   # idempotent: the same file twice gives the same list
        run = subprocess.run([sys.executable, "-m", "bot", "units", "import", str(good), "--config", str(config)],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert "7 places in all" in run.stdout


# ---- the conversation -------------------------------------------------------------------------------------

async def test_one_room_written_three_ways_is_one_place_and_br4_sees_the_duplicate(sim, units):
    r = await _file(sim, "a", "3号楼2单元1502卫生间水管漏水")
    assert "3栋2单元1502" in r[-1] and "业户单元" in r[-1]
    await sim.say("a", "确认")
    r = await sim.say("b", "3栋2-1502卫生间水管漏水")
    assert "BX20261129-0001" in r[0] and "已把您加入关注" in r[0]   # BR-4
    r = await sim.say("c", "B座1502卫生间水管漏水")   # an alias of the list (the old name of 3栋)
    assert "BX20261129-0001" in r[0] and "已把您加入关注" in r[0]
    r = await sim.say("d", "三栋二单元1502室卫生间水管漏水")
    assert "BX20261129-0001" in r[0]
    [t] = await sim.tickets()
    assert (t["location"], t["building"]) == ("3栋2单元1502卫生间", "3栋")


async def test_a_room_not_in_the_list_is_questioned_and_yes_takes_the_nearest(sim, units):
    r = await sim.say("a", "3栋2单元1520马桶堵了")
    assert any("没有找到 3栋2单元1520" in t and "3栋2单元1502" in t for t in r)
    r = await sim.say("a", "是")
    assert any("姓名" in t for t in r)
    r = await sim.say("a", "王女士 13812345678")
    assert "3栋2单元1502" in r[-1] and "1520" not in r[-1]
    await sim.say("a", "确认")
    [t] = await sim.tickets()
    assert (t["location"], t["area"]) == ("3栋2单元1502", "unit")


async def test_declining_the_nearest_room_asks_the_location_again(sim, units):
    await sim.say("a", "3栋2单元1520马桶堵了")
    r = await sim.say("a", "不是")
    assert any("在哪里" in t for t in r)
    r = await sim.say("a", "3栋1单元1502")
    assert any("姓名" in t for t in r)
    r = await sim.say("a", "王女士 13812345678")
    assert "3栋1单元1502" in r[-1]


async def test_the_area_follows_from_the_list(sim, units):
    # 门厅 alone says nothing of the area; the list says 3栋门厅 is the public 3栋大堂.
    r = await _file(sim, "a", "3栋门厅的灯不亮了")
    assert "3栋大堂" in r[-1] and "公共区域" in r[-1]
    assert not any("业户单元" in t and "公共区域" in t and "请问" in t for t in r)


async def test_an_alias_the_extractor_cannot_read_is_found_in_the_message(sim, units):
    # 老干部楼 is no building word the extractor knows, and 1502 alone is no place: the list knows the alias.
    r = await _file(sim, "a", "老干部楼1502卫生间水管漏水")
    assert "3栋2单元1502卫生间" in r[-1] and "业户单元" in r[-1]
    await sim.say("a", "确认")
    # A public place named only in the list, and its alias.
    r = await _file(sim, "b", "老年活动中心的灯不亮了")
    assert "老年活动中心" in r[-1] and "公共区域" in r[-1]
    r = await _file(sim, "c", "老干活动室的空调不制冷")
    assert "老年活动中心" in r[-1]
    tickets = {t["location"]: t for t in await sim.tickets()}
    assert tickets["3栋2单元1502卫生间"]["area"] == "unit"


async def test_an_alias_answers_the_location_question(sim, units):
    r = await sim.say("a", "水管漏水")
    assert any("在哪里" in t for t in r)
    r = await sim.say("a", "老干部楼1502")
    assert any("姓名" in t for t in r)
    r = await sim.say("a", "王女士 13812345678")
    assert "3栋2单元1502" in r[-1]


async def test_a_bare_room_one_building_has_is_offered(sim, units):
    r = await sim.say("a", "101卫生间灯不亮")
    assert any("101卫生间 是 5栋1单元101卫生间" in t for t in r)
    assert not any("没有找到" in t for t in r)
    r = await sim.say("a", "是")
    r = await sim.say("a", "王女士 13812345678")
    assert "5栋1单元101卫生间" in r[-1]
    await sim.say("a", "确认")
    [t] = await sim.tickets()
    assert (t["location"], t["area"], t["building"]) == ("5栋1单元101卫生间", "unit", "5栋")


async def test_a_bare_room_several_buildings_have_asks_which(sim, units):
    r = await sim.say("a", "1502马桶堵了")
    assert any("3栋1单元1502" in t and "3栋2单元1502" in t and "哪一处" in t for t in r)
    r = await sim.say("a", "2单元")       # names one of them
    assert any("姓名" in t for t in r)
    r = await sim.say("a", "王女士 13812345678")
    assert "3栋2单元1502" in r[-1] and "3栋1单元1502" not in r[-1]


async def test_a_bare_room_no_listed_unit_has_is_asked_for_as_before(sim, units):
    r = await sim.say("a", "9999马桶堵了")
    assert any("在哪里" in t for t in r) and not any("哪一处" in t for t in r)


async def test_without_a_list_nothing_changes(sim):
    r = await _file(sim, "a", "3栋2单元1520马桶堵了")
    assert not any("没有找到" in t for t in r)
    assert "3栋2单元1520" in r[-1]
    await sim.say("a", "确认")
    [t] = await sim.tickets()
    assert (t["location"], t["building"]) == ("3栋2单元1520", "3栋")   # the building parsed from the place
    r = await sim.say("b", "1502马桶堵了")     # a bare room is asked for, as ever
    assert any("在哪里" in t for t in r)


# ---- the API ------------------------------------------------------------------------------------------

async def test_tickets_filter_and_group_by_building(sim, client, units):
    for user, text in (("a", "3栋2单元1502马桶堵了"), ("b", "5栋1单元101灯不亮"), ("c", "地下车库的灯不亮")):
        await _file(sim, user, text)
        await sim.say(user, "确认")
    assert [t["location"] for t in await sim.tickets(building="3号楼")] == ["3栋2单元1502"]
    assert [t["location"] for t in await sim.tickets(building="5栋")] == ["5栋1单元101"]
    resp = await client.get("/api/v1/buildings", headers=auth())
    assert resp.status == 200
    assert (await resp.json())["buildings"] == [
        {"building": "", "open": 1, "total": 1},
        {"building": "3栋", "open": 1, "total": 1},
        {"building": "5栋", "open": 1, "total": 1},
    ]
    assert (await client.get("/api/v1/buildings")).status == 401
