"""Several processes start at once (issue 8, item 5): one web and two workers in the same second, all ready.

Real processes on a freshly migrated PostgreSQL database and Redis: each syncs the configuration's trades
and staff at start; before the sync took an advisory lock, one of them died on a unique-key violation.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid

import aiohttp
import asyncpg

from tests.conftest import PG_ADMIN, REDIS_URL, _pg_url
from tests.test_processes import ROOT, _free_port, _until

CONFIG = """
[service]
public_url = "http://127.0.0.1:{port}"
api_tokens = ["concurrent-start-test-token-0123456789abcdef"]
[database]
url = "{db}"
[redis]
url = "{redis}"
prefix = "{prefix}"
[media]
dir = "{media}"

[[trades]]
key = "plumbing"
name = "水"
wecom_chat_id = "plumbers"
[[trades]]
key = "electrical"
name = "电"

[[staff]]
name = "张师傅"
role = "technician"
trades = ["plumbing"]
phone = "13800000001"
wecom_userid = "zhangsan"
sim_user = "zhangsan"
[[staff]]
name = "李师傅"
role = "technician"
trades = ["electrical"]
phone = "13800000003"
wecom_userid = "lisi"
[[staff]]
name = "王主管"
role = "supervisor"
phone = "13800000009"
wecom_userid = "wangzhuguan"
"""


async def test_one_web_and_two_workers_started_together_on_a_fresh_database_all_come_up(tmp_path, redis_url):
    name = f"rb_start_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    port = _free_port()
    config = tmp_path / "repairbot.toml"
    config.write_text(CONFIG.format(port=port, db=_pg_url(name), redis=REDIS_URL, media=tmp_path / "media",
                                    prefix=f"rbstart{uuid.uuid4().hex[:6]}"), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-m", "bot"]
    procs: dict[str, subprocess.Popen] = {}
    try:
        subprocess.run(run + ["migrate", "--config", str(config)], check=True, env=env, capture_output=True)
        began = time.monotonic()
        for kind, args in (("web", ["serve", "--web-only", "--port", str(port)]),
                           ("worker1", ["worker"]), ("worker2", ["worker"])):
            procs[kind] = subprocess.Popen(run + args + ["--config", str(config)], env=env, cwd=tmp_path,
                                           stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"{kind}.log", "wb"))
        assert time.monotonic() - began < 1.0  # started in the same second

        def log(kind: str) -> str:
            return (tmp_path / f"{kind}.log").read_text(errors="replace")

        async def ready(kind: str, check) -> bool:
            if procs[kind].poll() is not None:
                raise AssertionError(f"{kind} exited with {procs[kind].returncode}:\n{log(kind)}")
            return await check()

        async with aiohttp.ClientSession() as http:
            async def web_ready() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                        return r.status == 200
                except aiohttp.ClientError:
                    return False

            await _until(lambda: ready("web", web_ready), 60)
            for kind in ("worker1", "worker2"):
                await _until(lambda: ready(kind, lambda: _says(log(kind), "worker ready")), 60)
        await asyncio.sleep(2)  # a process dying just after its start shows now (a real wait: other processes)
        for kind, p in procs.items():
            assert p.poll() is None, f"{kind} exited:\n{log(kind)}"
        conn = await asyncpg.connect(_pg_url(name).replace("+asyncpg", ""))
        try:
            staff = await conn.fetch("SELECT name, role FROM persons ORDER BY name")
            trades = await conn.fetch("SELECT key FROM trades ORDER BY key")
        finally:
            await conn.close()
        assert sorted((r["name"], r["role"]) for r in staff) == sorted(
            [("张师傅", "technician"), ("李师傅", "technician"), ("王主管", "supervisor")])  # one row each
        assert [r["key"] for r in trades] == ["electrical", "plumbing"]
    finally:
        for kind, p in procs.items():
            if p.poll() is None:
                p.terminate()
        for kind, p in procs.items():
            p.wait(timeout=15)
        for kind in procs:
            assert "Traceback" not in (tmp_path / f"{kind}.log").read_text(errors="replace"), kind
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _says(text: str, needle: str) -> bool:
    return needle in text
