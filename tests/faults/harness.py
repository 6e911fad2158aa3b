"""What the outage tests share: a cuttable TCP proxy, a Redis server of their own, and a WeCom world."""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis as redis_sync
import xmltodict
from aiohttp.test_utils import unused_port

from bot.services import services_of
from bot.app import create_app
from bot.sim.wecom_api import FakeWecom, callback_xml, setup_fake_wecom
from bot.wecom.crypto import WecomCrypto

CORP, AGENT, SECRET = "wwfaultcorp01", 1000002, "app-secret"
TOKEN, AES_KEY = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
STAFF = [
    {"name": "张师傅", "role": "technician", "trades": ["plumbing"], "phone": "13800000001", "wecom_userid": "zhangsan"},
    {"name": "赵师傅", "role": "technician", "trades": ["plumbing"], "phone": "13800000002", "wecom_userid": "zhaoliu"},
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def until(check, seconds: float = 30.0, step=None):
    """Poll work in flight (database and network round trips) until `check()` holds; `step` runs between
    polls (a test moves its clock there). Bounded: never waits on a timer of the service."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if step is not None:
            step()
        await asyncio.sleep(0.01)
    raise AssertionError("not reached in time")


class TcpProxy:
    """A loopback TCP proxy in front of a server; `cut()` drops every connection and refuses new ones,
    `restore()` listens again on the same port."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.refused_while_cut = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.close()
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def cut(self) -> None:
        self._server.close()
        for w in list(self._writers):
            w.transport.abort()  # a reset, as when the database host goes away
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.transport.abort()


class RedisServer:
    """A redis-server of the test's own (free port, temp dir), so it can be killed and restarted."""

    def __init__(self, directory: Path, appendonly: bool = True) -> None:
        self.dir = directory
        self.port = free_port()
        self.appendonly = appendonly
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.dir), "--save", "", "--appendonly", "yes" if self.appendonly else "no",
             "--appendfsync", "everysec", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis_sync.Redis.from_url(self.url)
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    if client.ping():
                        # AOF loaded (a restart replays the file before it answers commands)
                        if client.info("persistence").get("loading", 0) == 0:
                            return
                except (redis_sync.ConnectionError, redis_sync.BusyLoadingError):
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError("redis-server did not start")
                time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown save; what survives is what the append-only file holds."""
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
            self.proc = None


@dataclass
class WecomWorld:
    client: object
    app: object
    fake: FakeWecom
    crypto: WecomCrypto
    clock: object
    _msgid: int = 5000

    def xml(self, user: str, text: str) -> str:
        self._msgid += 1
        return callback_xml(CORP, user, int(self.clock.now().timestamp()), "text", AGENT, Content=text,
                            MsgId=self._msgid)

    async def say(self, user: str, text: str) -> None:
        """What WeCom does when a resident writes: an encrypted, signed callback; it must be answered 200."""
        ts = str(int(self.clock.now().timestamp()))
        envelope = self.crypto.encrypt(self.xml(user, text), timestamp=ts, nonce="nonce42")
        params = {"msg_signature": xmltodict.parse(envelope)["xml"]["MsgSignature"], "timestamp": ts,
                  "nonce": "nonce42"}
        resp = await self.client.post("/wecom/callback", params=params, data=envelope)
        assert resp.status == 200, await resp.text()

    def texts_to(self, user: str) -> list[str]:
        return [s["payload"]["text"]["content"] for s in self.fake.sent_to(user) if s.get("msgtype") == "text"]

    def replies_to(self, user: str) -> list[str]:
        """Every answer the person read: texts, and questions sent as a card with answer buttons
        (bot/wecom/question.py: title and text of a template_card whose buttons are `opt|…`)."""
        out = []
        for s in self.fake.sent_to(user):
            if s.get("msgtype") == "text":
                out.append(s["payload"]["text"]["content"])
            elif s.get("msgtype") == "template_card":
                card = s["payload"]["template_card"]
                if any(b.get("key", "").startswith("opt|") for b in card.get("button_list", [])):
                    out.append("\n".join(filter(None, (card.get("main_title", {}).get("title"),
                                                        card.get("sub_title_text")))))
        return out

    def cards_to(self, user: str) -> list[dict]:
        return [s["payload"]["template_card"] for s in self.fake.sent_to(user) if s.get("msgtype") == "template_card"]


async def wecom_world(aiohttp_client, clock, *, db_url: str, redis_url: str, prefix: str, tmp_path,
                      run_background: bool = False, **extra) -> WecomWorld:
    from bot.settings import load_settings
    port = unused_port()
    settings = load_settings(None, **{
        "database": {"url": db_url},
        "redis": {"url": redis_url, "prefix": prefix},
        "media": {"dir": str(tmp_path / "media")},
        "service": {"api_tokens": ["f" * 40], "public_url": f"http://127.0.0.1:{port}"},
        "wecom": {"corp_id": CORP, "agent_id": AGENT, "secret": SECRET, "token": TOKEN,
                  "encoding_aes_key": AES_KEY, "api_base": f"http://127.0.0.1:{port}/sim/wecom"},
        "trades": [{"key": "plumbing", "name": "水"}],
        "staff": STAFF,
        **extra,
    })
    app = create_app(settings, clock=clock, run_background=run_background, redis_prefix=prefix)
    fake = setup_fake_wecom(app, corp_id=CORP, secret=SECRET, clock=clock)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    # The client's own short in-request rate-limit retries, without waiting.
    services_of(app).channels["wecom"].client.backoff = 0
    return WecomWorld(client, app, fake, WecomCrypto(TOKEN, AES_KEY, CORP, clock), clock)


def outbox_statuses(rows) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        out[r.status] = out.get(r.status, 0) + 1
    return out


async def cleanup(db_url: str, redis_url: str, prefix: str) -> None:
    from tests.conftest import _truncate
    await _truncate(db_url)
    client = redis_sync.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
    finally:
        client.close()


__all__ = ["TcpProxy", "RedisServer", "WecomWorld", "wecom_world", "until", "free_port", "cleanup",
           "outbox_statuses", "unused_port"]
