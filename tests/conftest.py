"""Test fixtures: every backend-dependent test runs on SQLite + memory and on PostgreSQL + Redis."""
from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg
import pytest
import redis

from bot.settings import load_settings
from store.clock import FrozenClock
from store.db import migrate_sync

PG_ADMIN = os.environ.get("REPAIRBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("REPAIRBOT_TEST_REDIS", "redis://127.0.0.1:6379/0")
# CI runs both; a developer may narrow it with REPAIRBOT_TEST_BACKENDS=embedded for a quick loop.
BACKENDS = [b for b in os.environ.get("REPAIRBOT_TEST_BACKENDS", "embedded,pg").split(",") if b]
START = datetime(2026, 11, 29, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
TOKEN = "test-token"


def _pg_url(db: str) -> str:
    base = PG_ADMIN.rsplit("/", 1)[0]
    return f"{base}/{db}".replace("postgresql://", "postgresql+asyncpg://")


@pytest.fixture(scope="session")
def pg_database():
    """A fresh PostgreSQL database for this run, migrated once, dropped at the end."""
    name = f"rb_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except OSError as e:  # unreachable is a failure, never a skip: CI must test PostgreSQL
        pytest.fail(f"PostgreSQL at {PG_ADMIN} is not reachable: {e}")
    url = _pg_url(name)
    migrate_sync(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("db") / "template.db"
    migrate_sync(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def redis_url():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as e:
        pytest.fail(f"Redis at {REDIS_URL} is not reachable: {e}")
    finally:
        client.close()
    return REDIS_URL


@dataclass
class Backend:
    name: str
    db_url: str
    redis_url: str
    prefix: str
    extra: dict = field(default_factory=dict)


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    prefix = f"rbtest:{uuid.uuid4().hex[:8]}"
    if request.param == "embedded":
        db = tmp_path / "repairbot.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), db)
        yield Backend("embedded", f"sqlite+aiosqlite:///{db}", "", prefix)
        return
    url = request.getfixturevalue("pg_database")
    r_url = request.getfixturevalue("redis_url")
    yield Backend("pg", url, r_url, prefix)
    asyncio.run(_truncate(url))
    client = redis.Redis.from_url(r_url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


async def _truncate(url: str) -> None:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        tables = [r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'")]
        await conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture
def clock():
    return FrozenClock(START)


@pytest.fixture
def make_settings(backend, tmp_path):
    def make(**overrides):
        base = {
            "database": {"url": backend.db_url},
            "redis": {"url": backend.redis_url},
            "media": {"dir": str(tmp_path / "media")},
            "service": {"api_tokens": [TOKEN], "public_url": "http://testserver"},
        }
        for k, v in overrides.items():
            base[k] = {**base.get(k, {}), **v} if isinstance(v, dict) else v
        return load_settings(None, **base)
    return make


@pytest.fixture
async def client(aiohttp_client, make_settings, clock, backend):
    from bot.app import create_app

    app = create_app(make_settings(), clock=clock, run_background=False, redis_prefix=backend.prefix)
    return await aiohttp_client(app)


class Sim:
    """A resident typing into the simulator's JSON API, as a script or the browser page does."""

    def __init__(self, client) -> None:
        self.client = client

    async def say(self, user: str, text: str | None = None, *, chat: str | None = None,
                  image_b64: str | None = None, voice_b64: str | None = None) -> list[str]:
        body = {"user": user}
        if chat:
            body["chat"] = chat
        if text is not None:
            body["text"] = text
        if image_b64 is not None:
            body["image_b64"] = image_b64
        if voice_b64 is not None:
            body["voice_b64"] = voice_b64
        # the token is needed beside a real platform (demo = true) and harmless elsewhere
        resp = await self.client.post("/sim/api/say", json=body, headers=auth())
        assert resp.status == 200, await resp.text()
        return [r["text"] for r in (await resp.json())["replies"]]

    async def tickets(self, **params) -> list[dict]:
        resp = await self.client.get("/api/v1/tickets", params=params, headers=auth())
        assert resp.status == 200, await resp.text()
        return (await resp.json())["tickets"]

    async def ticket(self, number: str) -> dict:
        resp = await self.client.get(f"/api/v1/tickets/{number}", headers=auth())
        assert resp.status == 200, await resp.text()
        return await resp.json()


def auth(token: str = TOKEN) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def sim(client):
    return Sim(client)
