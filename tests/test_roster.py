"""The configuration is the truth about people: each start makes the database's staff match [[staff]]."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.services import services_of
from bot.app import create_app
from bot.settings import ConfigError
from dispatch.payloads import CardAction
from dispatch.roster import sync_configuration
from store.db import make_database, make_sessionmaker
from store.models import KeyValue, Outbox, Person, PersonIdentity, Trade
from tests.conftest import auth

ZHANG = {"name": "张师傅", "role": "technician", "trades": ["plumbing"], "phone": "13800000001",
         "sim_user": "zhangsan", "wecom_userid": "zhangsan"}
ZHAO = {"name": "赵师傅", "role": "technician", "trades": ["plumbing"], "phone": "13800000002", "sim_user": "zhaoliu"}
BOSS = {"name": "王主管", "role": "supervisor", "trades": [], "phone": "13800000009", "sim_user": "boss"}
TRADES = [{"key": "plumbing", "name": "水", "wecom_chat_id": "plumbers"}]


@pytest.fixture
def start(aiohttp_client, make_settings, clock, backend):
    """Start the service (again) on the same database with this configuration; the previous one stops first."""
    running = []

    async def start_(**config):
        while running:
            await running.pop().close()
        app = create_app(make_settings(**config), clock=clock, run_background=False, redis_prefix=backend.prefix)
        client = await aiohttp_client(app)
        running.append(client)
        return client
    return start_


async def file_ticket(client) -> str:
    resp = await client.post("/api/v1/tickets", headers=auth(), json={
        "description": "水管爆了", "location": "3栋2单元1502", "reporter_name": "王女士", "phone": "13812345678"})
    assert resp.status == 201, await resp.text()
    return (await resp.json())["number"]


async def act(client, number: str, user: str, action: str = "accept") -> tuple[int, dict]:
    resp = await client.post(f"/api/v1/tickets/{number}/actions/{action}", headers=auth(),
                             json={"actor": {"channel": "sim", "user": user}})
    return resp.status, await resp.json()


async def press(client, user: str, number: str) -> dict:
    resp = await client.post("/sim/api/press", json={"user": user, "payload": CardAction("accept", number).encode()})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def ticket(client, number: str) -> dict:
    return await (await client.get(f"/api/v1/tickets/{number}", headers=auth())).json()


async def card_recipients(client, number: str) -> list[str]:
    async with services_of(client.app).sessions() as s:
        rows = (await s.execute(select(Outbox).where(Outbox.kind == "card"))).scalars().all()
    return sorted(r.recipient for r in rows if r.payload.get("ticket") == number)


async def snapshot(client) -> tuple:
    async with services_of(client.app).sessions() as s:
        persons = sorted((p.id, p.name, p.role, p.phone, tuple(p.trades or ()))
                         for p in (await s.execute(select(Person))).scalars())
        idents = sorted((i.id, i.person_id, i.platform, i.external_id)
                        for i in (await s.execute(select(PersonIdentity))).scalars())
        trades = sorted((t.key, t.name, t.wecom_chat_id, t.feishu_chat_id)
                        for t in (await s.execute(select(Trade))).scalars())
        kv = sorted((k.key, k.value) for k in (await s.execute(select(KeyValue))).scalars())
    return persons, idents, trades, kv


async def test_removed_staff_lose_their_role_and_accounts_but_keep_their_history(start):
    client = await start(staff=[ZHANG, ZHAO, BOSS], trades=TRADES)
    first = await file_ticket(client)
    assert await card_recipients(client, first) == ["user:zhangsan", "user:zhaoliu"]
    assert (await act(client, first, "zhangsan"))[0] == 200

    client = await start(staff=[ZHAO, BOSS], trades=TRADES)  # 张师傅 left the company
    second = await file_ticket(client)
    assert await card_recipients(client, second) == ["user:zhaoliu"]  # no card for him
    assert (await ticket(client, second))["events"][-1]["details"] == {"technicians": ["赵师傅"]}
    r = await press(client, "zhangsan", second)
    assert r["outcome"] == "unknown_person" and "不是登记的维修人员" in r["replies"][0]["text"]
    status, body = await act(client, second, "zhangsan")
    assert status == 403 and body["error"]["code"] == "unknown_person"
    # His earlier work is still his in the audit trail.
    old = await ticket(client, first)
    assert old["assignee"]["name"] == "张师傅"
    assert [e["details"].get("assignee") for e in old["events"] if e["action"] == "accepted"] == ["张师傅"]
    async with services_of(client.app).sessions() as s:
        [him] = (await s.execute(select(Person).where(Person.name == "张师傅"))).scalars().all()
        assert (him.role, him.trades, him.identities) == ("former", [], [])

    client = await start(staff=[ZHANG, ZHAO, BOSS], trades=TRADES)  # and came back: the same record again
    async with services_of(client.app).sessions() as s:
        [again] = (await s.execute(select(Person).where(Person.name == "张师傅"))).scalars().all()
    assert again.id == him.id and again.role == "technician"
    assert (await act(client, second, "zhangsan"))[0] == 200


async def test_a_changed_role_or_trade_takes_effect_at_the_next_start(start):
    client = await start(staff=[ZHANG, BOSS])
    number = await file_ticket(client)
    client = await start(staff=[{**ZHANG, "role": "finance", "trades": []}, BOSS])
    status, body = await act(client, number, "zhangsan")
    assert status == 403 and body["error"]["code"] == "not_allowed"
    assert await card_recipients(client, await file_ticket(client)) == []  # finance gets no cards
    client = await start(staff=[{**ZHANG, "trades": ["electrical"]}, BOSS])
    assert (await act(client, number, "zhangsan"))[1]["error"]["code"] == "not_your_trade"
    client = await start(staff=[ZHANG, BOSS])
    assert (await act(client, number, "zhangsan"))[0] == 200
    async with services_of(client.app).sessions() as s:
        assert len((await s.execute(select(Person).where(Person.name == "张师傅"))).scalars().all()) == 1


async def test_the_demo_cast_never_survives_into_a_configured_database(start):
    client = await start()  # the simulator's cast (bot/sim/demo.toml)
    demo_ticket = await file_ticket(client)
    assert (await act(client, demo_ticket, "zhangsan"))[0] == 200
    async with services_of(client.app).sessions() as s:
        demo_zhang = (await s.execute(select(Person).where(Person.name == "张师傅"))).scalar_one()
    # The operator's own 张师傅 happens to have the WeCom userid the demo used.
    own = {"name": "张师傅", "role": "technician", "trades": ["plumbing"], "phone": "13911112222",
           "wecom_userid": "zhangsan", "sim_user": "zhang-real"}
    client = await start(staff=[own])
    number = await file_ticket(client)
    assert await card_recipients(client, number) == ["user:zhang-real"]
    for user in ("zhangsan", "zhaoliu", "lisi", "wangzhuguan"):
        assert (await press(client, user, number))["outcome"] == "unknown_person"
    async with services_of(client.app).sessions() as s:
        staff = (await s.execute(select(Person).where(Person.role.not_in(("resident", "former"))))).scalars().all()
        sims = (await s.execute(select(PersonIdentity.external_id).where(PersonIdentity.platform == "sim"))).scalars()
        wecom = (await s.execute(select(PersonIdentity).where(PersonIdentity.external_id == "zhangsan"))).scalar_one()
    assert [(p.name, p.phone) for p in staff] == [("张师傅", "13911112222")]
    assert staff[0].id != demo_zhang.id and wecom.person_id == staff[0].id  # a record of its own
    assert sorted(sims) == ["zhang-real"]
    assert (await ticket(client, demo_ticket))["assignee"]["name"] == "张师傅"  # the demo's history is kept


async def test_an_account_a_resident_used_moves_to_the_new_member_of_staff(start):
    client = await start(staff=[BOSS])
    r = await client.post("/sim/api/say", json={"user": "u-new", "text": "A座大堂的灯不亮了 李先生 13812345678"})
    assert r.status == 200
    await client.post("/sim/api/say", json={"user": "u-new", "text": "确认"})
    [reported] = (await (await client.get("/api/v1/tickets", headers=auth())).json())["tickets"]
    client = await start(staff=[BOSS, {**ZHAO, "sim_user": "u-new", "trades": ["electrical"]}])
    assert (await act(client, reported["number"], "u-new"))[1]["outcome"] == "ok"
    async with services_of(client.app).sessions() as s:
        resident = (await s.execute(select(Person).where(Person.role == "resident"))).scalar_one()
        assert (resident.name, resident.phone, resident.identities) == ("李先生", "13812345678", [])
        tech = (await s.execute(select(Person).where(Person.name == "赵师傅"))).scalar_one()
        assert [(i.platform, i.external_id) for i in tech.identities] == [("sim", "u-new")]


async def test_sync_run_twice_changes_nothing(start, backend):
    staff = [ZHANG, ZHAO, BOSS]
    client = await start(staff=staff, trades=TRADES)
    before = await snapshot(client)
    settings = services_of(client.app).settings
    async with services_of(client.app).sessions() as s, s.begin():
        report = await sync_configuration(s, settings.trades, settings.staff, services_of(client.app).clock.now())
    assert not report
    assert await snapshot(client) == before
    client = await start(staff=staff, trades=TRADES)
    assert await snapshot(client) == before


async def test_trades_follow_the_configuration(start):
    client = await start(staff=[BOSS], trades=TRADES)
    client = await start(staff=[BOSS], trades=[{"key": "electrical", "name": "电", "feishu_chat_id": "oc_e"}])
    assert (await snapshot(client))[2] == [("electrical", "电", "", "oc_e")]


async def test_concurrent_syncs_on_one_database_agree(backend, make_settings, clock):
    """Web and workers starting in the same second: every process syncs, none fails, one set of rows."""
    if backend.name != "pg":
        pytest.skip("the embedded default is one process")
    settings = make_settings(staff=[ZHANG, ZHAO, BOSS], trades=TRADES)
    engines = [make_database(backend.db_url, 2) for _ in range(3)]

    async def sync(engine):
        async with make_sessionmaker(engine)() as s, s.begin():
            return await sync_configuration(s, settings.trades, settings.staff, clock.now())
    try:
        reports = await asyncio.gather(*(sync(e) for e in engines))
        assert sum(bool(r) for r in reports) == 1  # the first did the work; the others found it done
        async with make_sessionmaker(engines[0])() as s:
            persons = (await s.execute(select(Person.name))).scalars().all()
        assert sorted(persons) == sorted(["张师傅", "赵师傅", "王主管"])
    finally:
        for e in engines:
            await e.dispose()


def test_one_account_is_one_person_in_the_configuration(make_settings):
    with pytest.raises(ConfigError, match=r"staff\[1\]\.sim_user"):
        make_settings(staff=[ZHANG, {**ZHAO, "sim_user": "zhangsan"}])
