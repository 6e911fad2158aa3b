"""`kill -9` of a worker between the commit of a filing and the acknowledgement of its inbox event → after
another worker takes the event over, exactly one ticket (issue 8, item 3). Real processes throughout.

The moment is made deterministic without any hook in the service: PostgreSQL holds the worker's filing
at a lock the test owns; with the worker inside that statement the test pauses its own Redis for writes
(CLIENT PAUSE … WRITE) and lets the filing commit. The worker can then neither write the conversation
state back nor acknowledge the event: it is killed there. Another worker, here an in-process one that
takes over events idle for any time at all, handles the event again.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
from aiohttp import web
from redis.asyncio import Redis

from bot.services import services_of
from bot.app import create_app
from bot.runtime import run_pending
from relay.inbox import RedisInbox
from bot.settings import load_settings
from bot.sim.wecom_api import callback_xml
from tests.conftest import PG_ADMIN, _pg_url
from tests.faults.conftest import free_port, until, waiting_on_table

ROOT = Path(__file__).resolve().parents[2]
CORP, AGENT = "ww1a2b3c4d5e6f7a8b", 1000002


def _config(tmp_path: Path, db_url: str, redis_url: str, prefix: str) -> Path:
    path = tmp_path / "repairbot.toml"
    path.write_text(f"""
[service]
public_url = "http://127.0.0.1:{free_port()}"
api_tokens = ["{uuid.uuid4().hex}{uuid.uuid4().hex}"]
[database]
url = "{db_url}"
[redis]
url = "{redis_url}"
prefix = "{prefix}"
[media]
dir = "{tmp_path / 'media'}"
[wecom]
corp_id = "{CORP}"
agent_id = {AGENT}
secret = "{uuid.uuid4().hex}"
token = "{uuid.uuid4().hex}"
encoding_aes_key = "{(uuid.uuid4().hex + uuid.uuid4().hex)[:43]}"
api_base = "http://127.0.0.1:{free_port()}"
[[trades]]
key = "plumbing"
name = "水"
[[staff]]
name = "张师傅"
role = "technician"
trades = ["plumbing"]
phone = "13800000001"
wecom_userid = "zhangsan"
""", encoding="utf-8")
    return path


async def test_a_worker_killed_between_commit_and_acknowledgement_files_one_ticket(tmp_path, own_redis):
    redis_url, redis_admin = own_redis
    name = f"rb_kill_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    prefix = f"rbkill{uuid.uuid4().hex[:6]}"
    config = _config(tmp_path, _pg_url(name), redis_url, prefix)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-m", "bot"]
    subprocess.run(run + ["migrate", "--config", str(config)], check=True, env=env, capture_output=True)
    worker = subprocess.Popen(run + ["worker", "--config", str(config)], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=open(tmp_path / "worker.log", "wb"))
    redis = Redis.from_url(redis_url)
    inbox = RedisInbox(redis, prefix=prefix)
    db = await asyncpg.connect(_pg_url(name).replace("+asyncpg", ""))
    runner = None
    try:
        async def say(text: str, msg_id: str) -> None:
            xml = callback_xml(CORP, "r1", 1764380000, "text", AGENT, Content=text, MsgId=msg_id)
            assert await inbox.offer("wecom", f"msg:{msg_id}", {"xml": xml}, key="r1")

        async def replies() -> int:
            return await db.fetchval("SELECT count(*) FROM outbox WHERE recipient = 'user:r1'")

        await say("3栋2单元1502卫生间水管爆了 王女士 13812345678", "m1")
        await until(replies)  # the worker answered with the summary

        hold = db.transaction()
        await hold.start()
        await db.execute("LOCK TABLE ticket_counters IN EXCLUSIVE MODE")
        await say("确认", "m2")
        probe = await asyncpg.connect(_pg_url(name).replace("+asyncpg", ""))
        try:
            await until(lambda: waiting_on_table(probe, "ticket_counters"))  # the worker is inside the filing
            redis_admin.execute_command("CLIENT", "PAUSE", 60_000, "WRITE")  # no state write-back, no ack
            await hold.commit()
            await until(lambda: probe.fetchval("SELECT count(*) FROM tickets"))  # committed
        finally:
            await probe.close()
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        redis_admin.execute_command("CLIENT", "UNPAUSE")
        assert await db.fetchval("SELECT count(*) FROM tickets") == 1
        cards = await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'card'")
        assert cards == 1
        assert await redis.xpending(inbox.stream, inbox.GROUP) and (await redis.xpending(
            inbox.stream, inbox.GROUP))["pending"] == 1  # the 「确认」 was never acknowledged

        # Another worker takes the dead one's event over (at once rather than after a minute) and
        # waits out the conversation lock the dead worker held.
        app = create_app(load_settings(config), run_background=False, demo_wecom=True)
        runner = web.AppRunner(app)
        await runner.setup()
        services_of(app).inbox.reclaim_idle_ms = 0
        assert await run_pending(services_of(app)) == 1
        assert await db.fetchval("SELECT count(*) FROM tickets") == 1
        assert await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'card'") == cards
        texts = [json.loads(r["payload"]).get("text", "")
                 for r in await db.fetch("SELECT payload FROM outbox WHERE recipient = 'user:r1'")]
        filed = [t for t in texts if "已提交" in t]
        assert len(filed) == 1  # the resident is told the number, once
        assert await db.fetchval("SELECT number FROM tickets") in filed[0]
        assert (await redis.xpending(inbox.stream, inbox.GROUP))["pending"] == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        redis_admin.execute_command("CLIENT", "UNPAUSE")
        if runner is not None:
            await runner.cleanup()
        await inbox.close()
        await redis.aclose()
        await db.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
