"""The deployment shape the README recommends, as real processes: `serve --web-only` beside `worker`.

Callbacks accepted while no worker runs are not lost: they wait in the Redis inbox and are processed
when a worker starts. This runs on PostgreSQL + Redis only (the embedded default is one process).
"""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests.conftest import PG_ADMIN, REDIS_URL, _pg_url

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "processes-test-token-of-32-chars-or-more"  # serve refuses shorter ones


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _until(check, seconds: float = 30.0):
    """Poll another process's work (not a timer) until it shows, bounded."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.2)
    raise AssertionError("the other process did not get there in time")


@pytest.fixture
async def deployment(tmp_path, redis_url):
    name = f"rb_proc_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    port = _free_port()
    config = tmp_path / "repairbot.toml"
    # demo = true: a configured service mounts the simulator (and its demo WeCom) only when asked to
    config.write_text(f'[service]\npublic_url = "http://127.0.0.1:{port}"\napi_tokens = ["{TOKEN}"]\ndemo = true\n'
                      f'[database]\nurl = "{_pg_url(name)}"\n[redis]\nurl = "{REDIS_URL}"\n'
                      f'prefix = "rbproc{uuid.uuid4().hex[:6]}"\n[media]\ndir = "{tmp_path / "media"}"\n',
                      encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-m", "bot"]
    subprocess.run(run + ["migrate", "--config", str(config)], check=True, env=env, capture_output=True)
    procs: dict[str, subprocess.Popen] = {}

    def start(kind: str) -> None:
        args = ["serve", "--web-only", "--port", str(port)] if kind == "web" else ["worker"]
        procs[kind] = subprocess.Popen(run + args + ["--config", str(config)], env=env, cwd=tmp_path,
                                       stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"{kind}.log", "wb"))

    start("web")
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        async def ready():
            try:
                async with http.get(f"{base}/readyz") as r:
                    return r.status == 200
            except aiohttp.ClientError:
                return False
        await _until(ready)
        yield http, base, start
    for kind, p in procs.items():
        p.terminate()
        # systemd's stop (SIGTERM) is orderly: events in hand are finished or left for later, nothing crashes.
        assert p.wait(timeout=15) == 0, kind
        assert "Traceback" not in (tmp_path / f"{kind}.log").read_text(errors="replace"), kind
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def test_callbacks_wait_in_the_inbox_until_a_worker_takes_them(deployment):
    http, base, start = deployment

    async def say(text):
        async with http.post(f"{base}/sim/api/wecom/say", json={"user": "r1", "text": text}) as r:
            assert (await r.json())["callback_status"] == 200  # answered by the web process alone

    async def sent():
        async with http.get(f"{base}/sim/wecom/_sent", params={"user": "r1"}) as r:
            return [i["payload"].get("text", {}).get("content", "") for i in (await r.json())["sent"]]

    await say("3栋2单元1502卫生间水管爆了 王女士 13812345678")
    await asyncio.sleep(0.5)
    assert await sent() == []  # no worker yet: accepted, stored, not processed
    start("worker")
    texts = await _until(lambda: _having(sent, "请核对"))
    assert any("3栋2单元1502" in t for t in texts)
    await say("确认")
    texts = await _until(lambda: _having(sent, "BX"))
    async with http.get(f"{base}/api/v1/tickets", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
        [ticket] = (await r.json())["tickets"]
    assert ticket["status"] == "dispatched" and ticket["category"] == "emergency"


async def _having(sent, needle):
    texts = await sent()
    return texts if any(needle in t for t in texts) else None
