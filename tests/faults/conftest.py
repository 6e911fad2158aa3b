"""What fault tests share: a Redis of the test's own (to pause or break it) and waiting on other processes."""
from __future__ import annotations

import asyncio
import socket
import subprocess
import time

import pytest
import redis

from tests.faults.harness import cleanup, wecom_world


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def until(check, seconds: float = 60.0):
    """Poll what another process or task does (not a timer) until it shows, bounded."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError("it did not get there in time")


async def waiting_on_table(conn, table: str) -> bool:
    """Someone (not `conn`) is waiting for a lock on `table`: it is blocked inside the statement that needs it."""
    return bool(await conn.fetchval(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = $1::regclass", table))


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test alone (never the shared one), on a free port, without persistence."""
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
                             "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0", client
    client.close()
    proc.kill()
    proc.wait()


@pytest.fixture
async def world(aiohttp_client, clock, pg_database, redis_url, tmp_path):
    """The service with the demo WeCom on its fake API, on PostgreSQL + Redis under a key prefix of its own."""
    prefix = f"rbfault:{tmp_path.name[-12:]}"
    w = await wecom_world(aiohttp_client, clock, db_url=pg_database, redis_url=redis_url, prefix=prefix,
                          tmp_path=tmp_path)
    yield w
    await cleanup(pg_database, redis_url, prefix)
