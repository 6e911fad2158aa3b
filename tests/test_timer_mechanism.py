"""The one timer mechanism (issue 11, item 5): keyed, leased, cancelled in the change's own commit, run once —
by one process or by two worker processes against one PostgreSQL (1,000 alerts, each sent exactly once)."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest
from aiohttp import web
from sqlalchemy import select

from bot.services import services_of
from dispatch import timers
from store.models import Ticket, Timer
from tests.aftercare_steps import advance, client, report, sim  # noqa: F401
from tests.conftest import PG_ADMIN, REDIS_URL, _pg_url
from tests.test_processes import ROOT, _free_port


@pytest.fixture
def counting_kind():
    runs: list[int] = []

    async def run(session, timer, now, policy):
        runs.append(timer.id)

    timers.KINDS["count_me"] = run
    yield runs
    timers.KINDS.pop("count_me", None)


async def _ticket(services, number):
    async with services.sessions() as s:
        return (await s.execute(select(Ticket).where(Ticket.number == number))).scalar_one()


async def test_a_timer_cancelled_in_the_same_transaction_never_runs_and_a_key_is_written_once(
        client, sim, counting_kind):
    services = services_of(client.app)
    number = await report(sim)
    t = await _ticket(services, number)
    now = services.clock.now()
    async with services.sessions() as s, s.begin():
        await timers.put(s, "t:a", "count_me", now + timedelta(seconds=60), t.id, {})
        await timers.put(s, "t:a", "count_me", now + timedelta(seconds=90), t.id, {})    # moved, not doubled
        await timers.put(s, "t:b", "count_me", now + timedelta(seconds=60), None, {})    # no ticket
        await timers.put(s, "t:c", "count_me", now + timedelta(seconds=60), None, {})
        await timers.cancel(s, "t:c")
    await advance(client, 60)
    async with services.sessions() as s:
        rows = {r.key: r for r in (await s.execute(select(Timer).where(Timer.key.like("t:%")))).scalars()}
    assert rows["t:b"].status == "done" and rows["t:c"].status == "cancelled" and rows["t:a"].status == "pending"
    await advance(client, 30)
    await advance(client, 3600)
    assert sorted(counting_kind) == sorted([rows["t:a"].id, rows["t:b"].id])
    async with services.sessions() as s, s.begin():   # a done timer scheduled again stays done: never twice
        await timers.put(s, "t:b", "count_me", services.clock.now(), None, {})
    await advance(client, 60)
    assert len(counting_kind) == 2


async def test_a_lease_left_by_a_dead_worker_runs_out_and_another_worker_runs_the_timer(client, sim, counting_kind):
    services = services_of(client.app)
    now = services.clock.now()
    async with services.sessions() as s, s.begin():
        await timers.put(s, "t:lease", "count_me", now, None, {})
    async with services.sessions() as s, s.begin():     # a worker leases it, then dies before running it
        assert len(await timers.lease(s, now, "dead-worker")) == 1
    assert await timers.run_due(services.sessions, now, services.policy) == 0       # held
    later = now + timedelta(seconds=timers.LEASE)
    assert await timers.run_due(services.sessions, later, services.policy) == 1     # its lease ran out
    assert await timers.run_due(services.sessions, later, services.policy) == 0
    assert len(counting_kind) == 1


# ---- two worker processes, one PostgreSQL, 1,000 tickets falling due ---------------------------------------------

CORP, AGENT, SECRET = "wwtimerscorp01", 1000002, "app-secret"
TOKEN, AES_KEY = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
TICKETS = 1000

CONFIG = """
[service]
public_url = "http://127.0.0.1:{port}"
api_tokens = ["two-workers-test-token-0123456789abcdef"]
[database]
url = "{db}"
[redis]
url = "{redis}"
prefix = "{prefix}"
[media]
dir = "{media}"
[sla]
scan_interval = 1
[alerts]
wecom_chat_id = "alerts"
[wecom]
corp_id = "{corp}"
agent_id = {agent}
secret = "{secret}"
token = "{token}"
encoding_aes_key = "{aes}"
api_base = "{api}"

[[trades]]
key = "plumbing"
name = "水"
[[staff]]
name = "王主管"
role = "supervisor"
phone = "13800000009"
wecom_userid = "wangzhuguan"
"""


async def _seed_due(conn, now: datetime) -> None:
    """1,000 daily tickets filed 25 minutes ago and not taken: their respond clock (20 min) ran out 5 minutes
    ago; each has its first escalation step (100 % → the supervisor) due, as filing schedules it."""
    created = now - timedelta(minutes=25)
    await conn.copy_records_to_table("tickets", columns=[
        "number", "property", "status", "area", "location", "location_key", "reporter_name", "phone",
        "description", "category", "trade", "channel", "reporter_channel", "reporter_chat", "reporter_user",
        "visit_text", "created_at", "version"], records=[
        (f"BX20261130-{i:04d}", "default", "dispatched", "unit", f"3栋{i}室", f"3-{i}", "王女士", "13812345678",
         "水管漏水", "daily", "plumbing", "wecom", "wecom", f"r{i}", f"r{i}", "", created, 1)
        for i in range(1, TICKETS + 1)])
    await conn.execute(
        "INSERT INTO timers (key, kind, ticket_id, due_at, status, claimed_by, details) "
        "SELECT 'esc:' || id || ':respond:0', 'escalation', id, $1, 'pending', '', "
        "json_build_object('clock', 'respond', 'step', 0, 'at', '100%', 'notify', 'supervisor') FROM tickets",
        created + timedelta(minutes=20))


async def test_two_worker_processes_send_each_of_1000_alerts_exactly_once(tmp_path, backend):
    if backend.name != "pg":
        pytest.skip("several processes share a database on PostgreSQL; the embedded default is one process")
    from bot.sim.wecom_api import setup_fake_wecom
    from store.clock import Clock

    fake_app = web.Application()
    fake = setup_fake_wecom(fake_app, corp_id=CORP, secret=SECRET, clock=Clock("Asia/Shanghai"))
    fake.add_chat("alerts")
    runner = web.AppRunner(fake_app)
    await runner.setup()
    api_port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", api_port).start()

    name = f"rb_timers_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    config = tmp_path / "repairbot.toml"
    config.write_text(CONFIG.format(port=_free_port(), db=_pg_url(name), redis=REDIS_URL,
                                    prefix=f"rbtimers{uuid.uuid4().hex[:6]}", media=tmp_path / "media", corp=CORP,
                                    agent=AGENT, secret=SECRET, token=TOKEN, aes=AES_KEY,
                                    api=f"http://127.0.0.1:{api_port}/sim/wecom"), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-m", "bot"]
    subprocess.run(run + ["migrate", "--config", str(config)], check=True, env=env, capture_output=True)
    db = await asyncpg.connect(_pg_url(name).replace("+asyncpg", ""))
    workers = [subprocess.Popen(run + ["worker", "--config", str(config)], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"worker{i}.log", "wb"))
               for i in range(2)]
    try:
        deadline = time.monotonic() + 60
        while not await db.fetchval("SELECT count(*) FROM persons WHERE name = '王主管'"):
            assert time.monotonic() < deadline, "the workers did not start"
            await asyncio.sleep(0.2)
        async with db.transaction():
            await _seed_due(db, datetime.now(timezone.utc))

        def cards():
            return [e for e in fake.sent if e.get("user") == "wangzhuguan" and e.get("msgtype") == "template_card"]

        def group():
            return [e for e in fake.sent if e["kind"] == "appchat" and e["chat"] == "alerts"]

        deadline = time.monotonic() + 180
        while len(cards()) < TICKETS or len(group()) < TICKETS:   # polls the other processes' work, bounded
            assert time.monotonic() < deadline, (len(cards()), len(group()))
            await asyncio.sleep(0.5)
        await asyncio.sleep(3)   # two more sweeps of each worker: a second send would show now
        numbers = [str(e["payload"]) for e in cards()]
        assert len(cards()) == TICKETS and len(group()) == TICKETS
        assert len({n[n.index("BX"):n.index("BX") + 15] for n in numbers}) == TICKETS
        done = await db.fetch("SELECT claimed_by, count(*) AS n FROM timers WHERE status = 'done' GROUP BY 1")
        assert sum(r["n"] for r in done) == TICKETS
        print("timers run per worker:", {r["claimed_by"]: r["n"] for r in done})
        assert await db.fetchval("SELECT count(*) FROM timers WHERE status = 'pending'") == 0
        assert await db.fetchval("SELECT count(*) FROM ticket_events WHERE action = 'escalated'") == TICKETS
    finally:
        for p in workers:
            p.terminate()
        codes = [p.wait(timeout=20) for p in workers]
        await db.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        await runner.cleanup()
    for i, code in enumerate(codes):
        assert code == 0
        assert "Traceback" not in (tmp_path / f"worker{i}.log").read_text(errors="replace")


async def test_timers_written_before_0011_keep_running_after_it(tmp_path, backend):
    """Migration 0011 keeps the rows of the auto sign-off and the survey: pending ones stay pending (with a key),
    ones that ran are done; a downgrade keeps them too."""
    import sqlalchemy as sa

    from store.db import make_database, migrate

    if backend.name == "pg":
        name = f"rb_mig_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = _pg_url(name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'mig.db'}"
    try:
        await migrate(url, "0009")
        engine = make_database(url)
        t = datetime(2026, 11, 29, 2, 0, tzinfo=timezone.utc)
        async with engine.begin() as conn:
            await conn.execute(sa.text(
                "INSERT INTO tickets (id, number, property, status, area, location, location_key, reporter_name, "
                "phone, description, category, trade, channel, reporter_channel, reporter_chat, reporter_user, "
                "visit_text, created_at, version, building, awaiting, quote_items, quote_status, quote_note, waiver, "
                "materials, completion_note, hold_reason, held_from, proposed_visit_text, signoff, survey) VALUES "
                "(1, 'BX20261129-0001', 'default', 'completed', 'unit', 'x', 'x', 'x', '1', 'x', 'daily', "
                "'plumbing', 'sim', 'sim', 'r', 'r', '', :t, 1, '', '', '[]', '', '', '{}', '[]', '', '', '', '', "
                "'', '{}')"), {"t": t})
            await conn.execute(sa.text(
                "INSERT INTO timers (ticket_id, kind, due_at, done_at, details) VALUES "
                "(1, 'signoff_auto', :t, NULL, '{}'), (1, 'survey_reminder', :t, :t, '{}')"), {"t": t})
        await engine.dispose()
        await migrate(url, "head")
        engine = make_database(url)
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT kind, status, key FROM timers ORDER BY id"))).all()
        await engine.dispose()
        assert [(r.kind, r.status) for r in rows] == [("signoff_auto", "pending"), ("survey_reminder", "done")]
        assert len({r.key for r in rows}) == 2 and all(r.key for r in rows)
        from alembic import command

        from store.db import alembic_config
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0009")
        engine = make_database(url)
        async with engine.connect() as conn:
            kept = (await conn.execute(sa.text("SELECT kind, done_at FROM timers ORDER BY id"))).all()
        await engine.dispose()
        assert [(r.kind, r.done_at is None) for r in kept] == [("signoff_auto", True), ("survey_reminder", False)]
    finally:
        if backend.name == "pg":
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
