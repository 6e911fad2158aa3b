"""Callback benchmark: encrypted WeCom (and Feishu) callbacks over loopback HTTP, the service vs. a bare handler.

Child processes, so this process measures nothing but HTTP round trips:
  service   `python -m bot serve --web-only --config <tmp>/repairbot.toml --port P` (webhooks; waited for on
            /readyz) and `python -m bot worker --config ...` (processing and delivery); with --single-process
            or the embedded backend one `serve` does both
  fake API  `python bench/callbacks.py --serve-fake-api PORT`: bot.sim's fake WeCom (and Feishu) server API,
            where the service's outbox sends its answers
  bare      `python bench/callbacks.py --serve-bare PORT`: verify the signature, decrypt (wechatpy's
            WeChatCrypto; for Feishu sha256 + AES-256-CBC) and answer empty 200, nothing else

Every resident sends the three-message intake `{b}栋2单元{room}卫生间水管漏水` / `王女士 13812345678` / `确认`
(its own user id, MsgIds and place, so BR-4 never merges two of them) and ends with one ticket.

    python bench/callbacks.py                       # full run on PostgreSQL + Redis (≈4 min)
    python bench/callbacks.py --backend embedded    # SQLite file + in-process state
    python bench/callbacks.py --ratio-only --repeat 5    # only 1., five times
    python bench/callbacks.py --processing-only     # only 3.: post a backlog with the worker stopped, drain it
    python bench/callbacks.py --rate 300 --duration 10   # open loop only: bare vs service at 300 msgs/s
    python bench/callbacks.py --feishu --json

Full run, in order:
  1. closed loop (`--concurrency` requests in flight, `--duration` s after a warm-up): bare vs service, with
     the worker stopped (on 2 cores it would take the web process's CPU)
  3. processing: the worker started again on the backlog that run 1 left in the inbox, timed until every
     resulting ticket exists (rows in `tickets`) and the inbox is empty (Redis `XLEN repairbot:inbox`, or
     the SQLite `inbox` table's pending rows), then until every reply is on the fake API; steps = messages
  2. open loop at `--open-rate` (200) msgs/s for `--open-duration` (15) s: callback latency
  4. overload: open loop at 2x a measured capacity (`--overload-basis`: `processing`, the default, is the
     capacity measured in 3; `callback` is the closed-loop callback capacity of 1) for `--overload-duration`
     s: the latest callback answer, then every message processed
  5. with --feishu: 1 and 3 again for Feishu `/feishu/events`

Open-loop latencies are measured from each message's scheduled send time (no coordinated omission): a send
the generator or a full connection pool delays counts against the latency.

Backends:
  pg        a fresh PostgreSQL database `rb_bench_<random>` (dropped afterwards) and a Redis database
            number of its own (10..15, one that is empty, claimed with a marker key, FLUSHDB afterwards):
            `repairbot serve` has no way to set the service's Redis key prefix, which stays "repairbot".
  embedded  SQLite in a temporary directory, in-process conversation state, the database inbox.

Only 127.0.0.1 is contacted. Every wait is bounded; a watchdog ends everything after --timeout seconds.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as `python bench/callbacks.py` without installing the project
    sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/{db}"
REDIS_BASE = "redis://127.0.0.1:6379"
REDIS_DBS = range(15, 9, -1)           # candidates for the dedicated Redis database
REDIS_MARK = "bench:callbacks:owner"   # the claim marker (the service's keys all start with "repairbot:")
SERVICE_PREFIX = "repairbot"           # the service's Redis prefix (not configurable through `serve`)

TARGET_RATIO = 0.5          # service >= 50 % of bare (closed loop)
TARGET_OPEN_P99_MS = 20.0   # p99 at 200 msgs/s
TARGET_STEPS = 500.0        # steps/s per worker on PostgreSQL + Redis
TARGET_MAX_S = 3.0          # no callback answered later than 3 s under overload

BODY = ("{b}栋2单元{room}卫生间水管漏水", "王女士 13812345678", "确认")
AGENT_ID = 1000002


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def texts_for(resident: int) -> tuple[str, str, str]:
    """A place nobody else reports: building 1..999 × room 1000..9999 (the extractor reads 3-4 digit rooms)."""
    b, room = 1 + (resident // 9000) % 999, 1000 + resident % 9000
    return BODY[0].format(b=b, room=room), BODY[1], BODY[2]


# ---- credentials shared with the child processes -----------------------------------------------------

def new_creds() -> dict[str, Any]:
    return {
        "corp_id": "wwbench" + secrets.token_hex(6), "agent_id": AGENT_ID, "secret": secrets.token_hex(16),
        "token": secrets.token_hex(8), "aes_key": base64.b64encode(os.urandom(32)).decode().rstrip("="),
        "fs_app_id": "cli_bench" + secrets.token_hex(4), "fs_app_secret": secrets.token_hex(16),
        "fs_token": secrets.token_hex(8), "fs_key": secrets.token_hex(12),
    }


# ---- child process: fake platform APIs ---------------------------------------------------------------

def serve_fake_api(port: int, creds_file: str) -> int:
    from aiohttp import web

    from bot.sim.feishu_api import setup_fake_feishu
    from bot.sim.wecom_api import setup_fake_wecom
    from store.clock import Clock

    creds = json.loads(Path(creds_file).read_text())
    app = web.Application(client_max_size=16 * 1024 * 1024)
    setup_fake_wecom(app, prefix="/sim/wecom", corp_id=creds["corp_id"], secret=creds["secret"], clock=Clock())
    setup_fake_feishu(app, prefix="/sim/feishu", app_id=creds["fs_app_id"], app_secret=creds["fs_app_secret"],
                      clock=Clock())
    app.router.add_get("/healthz", lambda r: web.json_response({"status": "ok"}))
    web.run_app(app, host=HOST, port=port, access_log=None, print=None)
    return 0


# ---- child process: the bare handlers -----------------------------------------------------------------

def serve_bare(port: int, creds_file: str) -> int:
    """Verify, decrypt, answer: the least any callback handler must do (no access log, as the service)."""
    from aiohttp import web
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from wechatpy.enterprise.crypto import WeChatCrypto
    from wechatpy.exceptions import InvalidSignatureException

    creds = json.loads(Path(creds_file).read_text())
    wecom = WeChatCrypto(creds["token"], creds["aes_key"], creds["corp_id"])
    fs_key = creds["fs_key"]
    fs_aes = hashlib.sha256(fs_key.encode()).digest()

    async def wecom_callback(request: web.Request) -> web.Response:
        body = await request.read()
        q = request.query
        try:
            wecom.decrypt_message(body, q.get("msg_signature", ""), q.get("timestamp", ""), q.get("nonce", ""))
        except InvalidSignatureException:
            return web.Response(status=403, text="forbidden")
        except Exception:
            return web.Response(status=400, text="bad request")
        return web.Response(text="")

    async def feishu_events(request: web.Request) -> web.Response:
        body = await request.read()
        h = request.headers
        expected = hashlib.sha256((h.get("X-Lark-Request-Timestamp", "") + h.get("X-Lark-Request-Nonce", "")
                                   + fs_key).encode() + body).hexdigest()
        if not hmac.compare_digest(expected.encode(), h.get("X-Lark-Signature", "").encode()):
            return web.Response(status=403, text="forbidden")
        try:
            raw = base64.b64decode(json.loads(body)["encrypt"])
            dec = Cipher(algorithms.AES(fs_aes), modes.CBC(raw[:16])).decryptor()
            plain = dec.update(raw[16:]) + dec.finalize()
            payload = json.loads(plain[:-plain[-1]])
        except Exception:
            return web.Response(status=400, text="bad request")
        if payload.get("header", {}).get("token") != creds["fs_token"]:
            return web.Response(status=403, text="forbidden")
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/wecom/callback", wecom_callback)
    app.router.add_post("/feishu/events", feishu_events)
    app.router.add_get("/healthz", lambda r: web.json_response({"status": "ok"}))
    web.run_app(app, host=HOST, port=port, access_log=None, print=None)
    return 0


# ---- request builders (this process) ---------------------------------------------------------------------

class WecomLoad:
    """Callbacks as WeCom sends them: <xml><ToUserName/><AgentID/><Encrypt/></xml> + msg_signature query."""

    name = "wecom"
    path = "/wecom/callback"

    def __init__(self, creds: dict[str, Any], run_id: str) -> None:
        from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

        from bot.sim.wecom_api import callback_xml
        self._callback_xml = callback_xml
        self.creds, self.run_id = creds, run_id
        self.prp = PrpCrypto(WeChatCrypto(creds["token"], creds["aes_key"], creds["corp_id"]).key)
        self.msg_base = secrets.randbits(40) << 20

    def user(self, resident: int) -> str:
        return f"bench{self.run_id}-{resident}"

    def build(self, base: str, resident: int, step: int) -> tuple[Any, bytes, dict[str, str]]:
        from yarl import URL
        c = self.creds
        now = int(time.time())
        xml = self._callback_xml(c["corp_id"], self.user(resident), now, "text", c["agent_id"],
                                 Content=texts_for(resident)[step], MsgId=self.msg_base + resident * 3 + step)
        encrypt = self.prp.encrypt(xml, c["corp_id"]).decode()
        ts, nonce = str(now), secrets.token_hex(5)
        sig = hashlib.sha1("".join(sorted([c["token"], ts, nonce, encrypt])).encode()).hexdigest()
        body = (f"<xml><ToUserName><![CDATA[{c['corp_id']}]]></ToUserName><AgentID><![CDATA[{c['agent_id']}]]>"
                f"</AgentID><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>").encode()
        url = URL(f"{base}{self.path}?msg_signature={sig}&timestamp={ts}&nonce={nonce}", encoded=True)
        return url, body, {"Content-Type": "text/xml"}


class FeishuLoad:
    """im.message.receive_v1 (schema 2.0, p2p text), encrypted and signed as platforms.md describes."""

    name = "feishu"
    path = "/feishu/events"

    def __init__(self, creds: dict[str, Any], run_id: str) -> None:
        self.creds, self.run_id = creds, run_id
        self.key = creds["fs_key"]
        self.aes = hashlib.sha256(self.key.encode()).digest()

    def user(self, resident: int) -> str:
        return f"ou_bench{self.run_id}_{resident}"

    def _encrypt(self, plain: bytes) -> str:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        iv = os.urandom(16)
        pad = 16 - len(plain) % 16
        enc = Cipher(algorithms.AES(self.aes), modes.CBC(iv)).encryptor()
        return base64.b64encode(iv + enc.update(plain + bytes([pad]) * pad) + enc.finalize()).decode()

    def build(self, base: str, resident: int, step: int) -> tuple[Any, bytes, dict[str, str]]:
        from yarl import URL
        c = self.creds
        ms = str(int(time.time() * 1000))
        payload = {
            "schema": "2.0",
            "header": {"event_id": uuid.uuid4().hex, "token": c["fs_token"], "create_time": ms,
                       "event_type": "im.message.receive_v1", "tenant_key": "bench", "app_id": c["fs_app_id"]},
            "event": {
                "sender": {"sender_id": {"open_id": self.user(resident), "union_id": f"on_{resident}",
                                         "user_id": f"u{resident}"}, "sender_type": "user", "tenant_key": "bench"},
                "message": {"message_id": f"om_{self.run_id}_{resident}_{step}",
                            "chat_id": f"oc_{self.run_id}_{resident}", "chat_type": "p2p", "message_type": "text",
                            "content": json.dumps({"text": texts_for(resident)[step]}, ensure_ascii=False),
                            "create_time": ms},
            },
        }
        body = json.dumps({"encrypt": self._encrypt(json.dumps(payload, ensure_ascii=False).encode())}).encode()
        ts, nonce = str(int(time.time())), secrets.token_hex(8)
        sig = hashlib.sha256((ts + nonce + self.key).encode() + body).hexdigest()
        headers = {"Content-Type": "application/json", "X-Lark-Request-Timestamp": ts,
                   "X-Lark-Request-Nonce": nonce, "X-Lark-Signature": sig}
        return URL(f"{base}{self.path}", encoded=True), body, headers


# ---- statistics ---------------------------------------------------------------------------------------------

def pct(samples: list[float], p: float) -> float:
    """Nearest-rank percentile, in ms."""
    if not samples:
        return float("nan")
    s = sorted(samples)
    return s[int(max(1, -(-len(s) * p // 100))) - 1] * 1000


def lat_summary(lat: list[float]) -> dict[str, float]:
    return {"n": len(lat), "p50_ms": round(pct(lat, 50), 3), "p99_ms": round(pct(lat, 99), 3),
            "max_ms": round(max(lat) * 1000, 3) if lat else float("nan"),
            "mean_ms": round(statistics.fmean(lat) * 1000, 3) if lat else float("nan")}


# ---- load loops ------------------------------------------------------------------------------------------

@dataclass
class Residents:
    """Hands out resident numbers; remembers which ones had every callback answered 200."""

    next: int = 0
    started: int = 0
    failed: set[int] = field(default_factory=set)

    def take(self) -> int:
        r = self.next
        self.next += 1
        self.started += 1
        return r


def _session(concurrency: int):
    import aiohttp
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency, force_close=False),
                                 timeout=aiohttp.ClientTimeout(total=30), skip_auto_headers=("User-Agent",))


async def _post(session, url, body, headers) -> int:
    try:
        async with session.post(url, data=body, headers=headers) as resp:
            await resp.read()
            return resp.status
    except asyncio.TimeoutError:
        return -1
    except Exception:
        return -2


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), for the CPU share of a phase."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


async def closed_loop(load, base: str, residents: Residents, concurrency: int, warmup: float,
                      duration: float, max_msgs: int = 0, pid: int = 0) -> dict[str, Any]:
    """`concurrency` residents in flight, each posting its 3 messages in order; stops between residents,
    after `warmup + duration` s or (max_msgs > 0) once max_msgs messages were posted after the warm-up,
    whichever comes first."""
    lat: list[float] = []
    status: dict[int, int] = {}
    counted = 0
    posted = 0
    async with _session(concurrency) as session:
        t0 = time.perf_counter()
        t_measure, t_end = t0 + warmup, t0 + warmup + duration
        cpu0 = cpu_seconds(pid) if pid else float("nan")
        me0 = time.process_time()

        async def worker() -> None:
            nonlocal counted, posted, t_end
            while time.perf_counter() < t_end:
                if max_msgs and counted >= max_msgs:
                    t_end = min(t_end, time.perf_counter())
                    break
                r = residents.take()
                for step in range(3):
                    url, body, headers = load.build(base, r, step)
                    a = time.perf_counter()
                    st = await _post(session, url, body, headers)
                    b = time.perf_counter()
                    posted += 1
                    status[st] = status.get(st, 0) + 1
                    if a >= t_measure and b <= t_end:
                        lat.append(b - a)
                        counted += 1
                    if st != 200:
                        residents.failed.add(r)
                        break

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        t_last = time.perf_counter()
        cpu_s = cpu_seconds(pid) - cpu0 if pid else float("nan")
        cpu = cpu_s / (t_last - t0)
        me = (time.process_time() - me0) / (t_last - t0)
    measured = max(1e-9, t_end - t_measure)
    return {"msgs_per_s": round(counted / measured, 1), "latency": lat_summary(lat), "posted": posted,
            "measured_s": round(measured, 2), "status": status, "t_first": t0, "t_last": t_last,
            "wall_s": round(t_last - t0, 2), "server_cpu_share": round(cpu, 2), "client_cpu_share": round(me, 2),
            "server_cpu_ms_per_msg": round(1000 * cpu_s / max(1, posted), 3)}


async def open_loop(load, base: str, residents: Residents, rate: float, duration: float, concurrency: int,
                    spread: float = 0.5, pid: int = 0) -> dict[str, Any]:
    """Message i is due at start + i/rate; residents are interleaved in blocks of K = rate*spread, so a
    resident's next message is due `spread` s after its previous one (and is held until that one was answered,
    which keeps each conversation in order; the wait counts as latency)."""
    k = max(1, int(rate * spread))
    blocks = max(1, round(rate * duration / (3 * k)))
    n = blocks * 3 * k
    first = residents.next
    for _ in range(blocks * k):
        residents.take()
    # Built before the clock starts: the generator's own crypto stays out of the schedule.
    reqs = []
    order = []
    for i in range(n):
        blk, j = divmod(i, 3 * k)
        step, r = j // k, first + blk * k + j % k
        order.append((r, step))
        reqs.append(load.build(base, r, step))
    lat: list[float] = []
    lag: list[float] = []
    status: dict[int, int] = {}
    answered: dict[tuple[int, int], asyncio.Event] = {}
    async with _session(concurrency) as session:
        start = time.perf_counter() + 0.05
        cpu0 = cpu_seconds(pid) if pid else float("nan")

        async def one(i: int) -> None:
            r, step = order[i]
            due = start + i / rate
            if step:
                await answered[(r, step - 1)].wait()
            url, body, headers = reqs[i]
            lag.append(time.perf_counter() - due)
            st = await _post(session, url, body, headers)
            lat.append(time.perf_counter() - due)
            status[st] = status.get(st, 0) + 1
            if st != 200:
                residents.failed.add(r)
            answered[(r, step)].set()

        tasks = []
        i = 0
        while i < n:
            now = time.perf_counter()
            while i < n and start + i / rate <= now:
                answered[order[i]] = asyncio.Event()
                tasks.append(asyncio.create_task(one(i)))
                i += 1
            if i < n:
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        t_sched_end = time.perf_counter()
        done, pending = await asyncio.wait(tasks, timeout=60)
        for t in pending:
            t.cancel()
        t_last = time.perf_counter()
        cpu = (cpu_seconds(pid) - cpu0) / (t_last - start) if pid else float("nan")
    over = {f"over_{s}s": sum(1 for x in lat if x > s) for s in (1, 3, 5)}
    return {"rate": rate, "messages": n, "residents": blocks * k, "latency": lat_summary(lat),
            "send_lag": lat_summary(lag), "status": status, "unfinished": len(pending), **over,
            "achieved_rate": round(n / (t_sched_end - start), 1), "t_first": start, "t_last": t_last,
            "server_cpu_share": round(cpu, 2)}


# ---- backends and the watch on processing ------------------------------------------------------------------

class Backend:
    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind, self.tmp = kind, tmp
        self.dbname = ""
        self.redis_db: int | None = None
        self.redis_token = secrets.token_hex(8)
        self._pg = None
        self._redis = None
        self._lock = threading.Lock()
        self._cleaned = False

    @property
    def db_url(self) -> str:
        if self.kind == "pg":
            return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{self.dbname}"
        return f"sqlite+aiosqlite:///{self.tmp / 'rb.db'}"

    @property
    def redis_url(self) -> str:
        return f"{REDIS_BASE}/{self.redis_db}" if self.redis_db is not None else ""

    async def setup(self) -> None:
        if self.kind != "pg":
            return
        import asyncpg
        from redis.asyncio import Redis
        for db in REDIS_DBS:
            r = Redis.from_url(f"{REDIS_BASE}/{db}")
            try:
                if await r.set(REDIS_MARK, self.redis_token, nx=True, ex=3600):
                    if await r.dbsize() == 1:
                        self.redis_db, self._redis = db, r
                        break
                    await r.delete(REDIS_MARK)  # someone else's data is there: leave it alone
            except Exception:
                await r.aclose()
                raise
            await r.aclose()
        if self.redis_db is None:
            raise RuntimeError("no empty Redis database among 10..15 to use")
        self.dbname = "rb_bench_" + secrets.token_hex(5)
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
        try:
            await conn.execute(f'CREATE DATABASE "{self.dbname}"')
        finally:
            await conn.close()

    async def connect(self) -> None:
        if self.kind == "pg":
            import asyncpg
            self._pg = await asyncpg.connect(PG_DSN.format(db=self.dbname), timeout=5)

    async def counts(self) -> dict[str, int]:
        """tickets, inbox items not yet processed, outbox rows not yet sent."""
        if self.kind == "pg":
            row = await self._pg.fetchrow(
                "SELECT (SELECT count(*) FROM tickets) AS t,"
                " (SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')) AS o")
            pending = await self._redis.xlen(f"{SERVICE_PREFIX}:inbox")
            return {"tickets": row["t"], "inbox": int(pending), "outbox": row["o"]}
        return await asyncio.to_thread(self._sqlite_counts)

    def _sqlite_counts(self) -> dict[str, int]:
        con = sqlite3.connect(f"file:{self.tmp / 'rb.db'}?mode=ro", uri=True, timeout=5)
        try:
            t = con.execute("SELECT count(*) FROM tickets").fetchone()[0]
            i = con.execute("SELECT count(*) FROM inbox WHERE status = 'pending'").fetchone()[0]
            o = con.execute("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')").fetchone()[0]
            return {"tickets": t, "inbox": i, "outbox": o}
        finally:
            con.close()

    async def aclose(self) -> None:
        if self._pg is not None:
            await self._pg.close()
            self._pg = None

    def cleanup(self) -> None:
        """Drop the database and flush the claimed Redis database; idempotent, safe from any thread."""
        with self._lock:
            if self._cleaned or self.kind != "pg":
                return
            self._cleaned = True

        async def run() -> None:
            import asyncpg
            from redis.asyncio import Redis
            if self.dbname:
                conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
                try:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
                finally:
                    await conn.close()
            if self.redis_db is not None:
                r = Redis.from_url(self.redis_url)
                try:
                    if (await r.get(REDIS_MARK)) == self.redis_token.encode():
                        await r.flushdb()
                finally:
                    await r.aclose()

        errors: list[BaseException] = []

        def thread() -> None:  # a fresh event loop, so this works from the watchdog too
            try:
                asyncio.run(run())
            except BaseException as e:  # reported below
                errors.append(e)
        t = threading.Thread(target=thread)
        t.start()
        t.join(30)
        if errors:
            log(f"cleanup failed: {errors[0]!r} (database {self.dbname}, redis db {self.redis_db})")
        else:
            log(f"cleaned up: dropped database {self.dbname}, flushed redis db {self.redis_db}")


async def wait_processed(backend: Backend, expected_tickets: int, t_first: float, t_posted: float,
                         timeout: float, pid: int = 0) -> dict[str, Any]:
    """Poll every 50 ms until `expected_tickets` tickets exist and the inbox is empty (or the timeout).
    The drain rate is the inbox backlog found at the start over the time it took to go (when it did not go
    in time: what went over the time waited)."""
    cpu0 = cpu_seconds(pid) if pid else float("nan")
    c0 = await backend.counts()
    backlog = c0["inbox"]
    t_c0 = time.perf_counter()
    deadline = t_c0 + timeout
    while True:
        c = await backend.counts()
        now = time.perf_counter()
        if (c["tickets"] >= expected_tickets and c["inbox"] == 0) or now > deadline:
            break
        await asyncio.sleep(0.05)
    done = c["tickets"] >= expected_tickets and c["inbox"] == 0
    drain_s = now - t_c0
    cpu = (cpu_seconds(pid) - cpu0) / drain_s if pid and drain_s > 0 else float("nan")
    went = backlog - c["inbox"]
    unsent_at_done = c["outbox"]
    # Then every reply on the fake API: the steps' answers delivered, not only recorded.
    while done and c["outbox"] and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
        c = await backend.counts()
    sent_s = time.perf_counter() - t_c0
    return {"done": done, "tickets": c["tickets"], "expected_tickets": expected_tickets, "inbox_left": c["inbox"],
            "outbox_unsent_at_done": unsent_at_done, "backlog_after_posting": backlog,
            "drain_s": round(drain_s, 2), "since_first_post_s": round(now - t_first, 2),
            "drain_steps_per_s": round(went / drain_s, 1) if drain_s > 0.5 and went > 0 else None,
            "all_sent": done and c["outbox"] == 0, "all_sent_s": round(sent_s, 2),
            "sent_steps_per_s": round(went / sent_s, 1) if done and c["outbox"] == 0 and went > 0 else None,
            "service_cpu_share": round(cpu, 2), "t_done": now}


# ---- child processes -----------------------------------------------------------------------------------------

class Children:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        out = open(self.tmp / f"{name}.log", "wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env = {k: v for k, v in env.items() if not k.startswith("REPAIRBOT_")}  # only our config file counts
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT,
                             env=env)
        out.close()
        self.procs[name] = p
        return p

    def tail(self, name: str, lines: int = 30) -> str:
        try:
            return "\n".join((self.tmp / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_text(self, name: str) -> str:
        try:
            return (self.tmp / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, name: str) -> None:
        p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGINT)  # aiohttp's run_app shuts down cleanly on SIGINT
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


async def wait_ready(children: Children, name: str, url: str, timeout: float = 60) -> float:
    import aiohttp
    t0 = time.perf_counter()
    p = children.procs[name]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as s:
        while time.perf_counter() - t0 < timeout:
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited with {p.returncode}:\n{children.tail(name)}")
            try:
                async with s.get(url) as r:
                    if r.status == 200:
                        return time.perf_counter() - t0
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{name} not ready after {timeout:g} s:\n{children.tail(name)}")


def write_config(tmp: Path, backend: Backend, creds: dict[str, Any], api_port: int, feishu: bool) -> Path:
    api = f"http://{HOST}:{api_port}"
    text = f"""
[service]
api_tokens = ["bench-{secrets.token_hex(16)}"]
secret_key = "{secrets.token_hex(16)}"

[database]
url = "{backend.db_url}"

[redis]
url = "{backend.redis_url}"

[media]
dir = "{tmp / 'media'}"

[wecom]
corp_id = "{creds['corp_id']}"
agent_id = {creds['agent_id']}
secret = "{creds['secret']}"
token = "{creds['token']}"
encoding_aes_key = "{creds['aes_key']}"
api_base = "{api}/sim/wecom"
"""
    if feishu:
        text += f"""
[feishu]
app_id = "{creds['fs_app_id']}"
app_secret = "{creds['fs_app_secret']}"
verification_token = "{creds['fs_token']}"
encrypt_key = "{creds['fs_key']}"
api_base = "{api}/sim/feishu"
"""
    path = tmp / "repairbot.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


# ---- the run ------------------------------------------------------------------------------------------------

def _worker_pid(children: Children, spid: int) -> int:
    """The process that does the processing: the worker when there is one, else the single `serve`."""
    w = children.procs.get("worker")
    return w.pid if w is not None else spid


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("MET" if ok else "MISSED")


async def run(args: argparse.Namespace, tmp: Path, backend: Backend, children: Children) -> dict[str, Any]:
    import aiohttp

    creds = new_creds()
    creds_file = tmp / "creds.json"
    creds_file.write_text(json.dumps(creds))
    creds_file.chmod(0o600)
    run_id = secrets.token_hex(3)
    py = sys.executable
    me = str(Path(__file__).resolve())
    result: dict[str, Any] = {"backend": backend.kind, "concurrency": args.concurrency, "cpus": os.cpu_count()}

    await backend.setup()
    api_port, bare_port, svc_port = free_port(), free_port(), free_port()
    children.start("fake_api", [py, me, "--serve-fake-api", str(api_port), "--creds", str(creds_file)])
    children.start("bare", [py, me, "--serve-bare", str(bare_port), "--creds", str(creds_file)])
    config = write_config(tmp, backend, creds, api_port, args.feishu)
    if backend.kind == "pg":
        log(f"PostgreSQL database {backend.dbname}, Redis db {backend.redis_db}: migrating")
        mig = await asyncio.to_thread(subprocess.run, [py, "-m", "bot", "migrate", "--config", str(config)],
                                      cwd=ROOT, capture_output=True, text=True, timeout=120)
        if mig.returncode:
            raise RuntimeError(f"migrate failed:\n{mig.stdout}\n{mig.stderr}")
    split = backend.kind == "pg" and not args.single_process
    serve = [py, "-m", "bot", "serve", "--config", str(config), "--port", str(svc_port)]
    children.start("service", serve + (["--web-only"] if split else []))
    if split:
        # The deployment shape for load: webhooks in `serve --web-only`, processing in `repairbot worker`.
        children.start("worker", [py, "-m", "bot", "worker", "--config", str(config)])
    result["processes"] = "serve --web-only + worker" if split else "serve (web and background work)"
    svc = f"http://{HOST}:{svc_port}"
    bare = f"http://{HOST}:{bare_port}"
    await wait_ready(children, "fake_api", f"http://{HOST}:{api_port}/healthz")
    await wait_ready(children, "bare", f"{bare}/healthz")
    ready_s = await wait_ready(children, "service", f"{svc}/readyz")
    log(f"service ready in {ready_s:.1f} s (pid {children.procs['service'].pid}); fake API :{api_port}, "
        f"bare :{bare_port}, service :{svc_port}")
    await backend.connect()
    result["service_pid"] = children.procs["service"].pid
    wecom = WecomLoad(creds, run_id)
    feishu = FeishuLoad(creds, run_id) if args.feishu else None
    service_residents = Residents()

    def expected_now() -> int:
        return service_residents.started - len(service_residents.failed)

    # One resident end to end first: callback → ticket → replies on the fake WeCom API.
    r = service_residents.take()
    async with _session(1) as s:
        for step in range(3):
            st = await _post(s, *wecom.build(svc, r, step))
            if st != 200:
                raise RuntimeError(f"smoke test: callback answered {st}:\n{children.tail('service')}")
    smoke = await wait_processed(backend, 1, time.perf_counter(), time.perf_counter(), 20)
    if not smoke["done"]:
        raise RuntimeError(f"smoke test: no ticket after 20 s ({smoke}):\n{children.tail('service')}")
    async with aiohttp.ClientSession() as s:
        async with s.get(f"http://{HOST}:{api_port}/sim/wecom/_sent", params={"user": wecom.user(r)}) as resp:
            sent = (await resp.json())["sent"]
    log(f"smoke test: 1 resident → 1 ticket, {len(sent)} replies on the fake WeCom API")
    if split:
        # The callback path is measured alone: on 2 cores a busy worker would take the web process's CPU.
        children.stop("worker")

    spid = children.procs["service"].pid
    bpid = children.procs["bare"].pid
    if args.rate:
        # Open loop only: bare vs service at a fixed rate.
        log(f"open loop {args.rate:g} msgs/s for {args.duration:g} s: bare")
        b = await open_loop(wecom, bare, Residents(next=10_000_000), args.rate, args.duration, args.concurrency,
                            pid=bpid)
        log(f"open loop {args.rate:g} msgs/s for {args.duration:g} s: service")
        sv = await open_loop(wecom, svc, service_residents, args.rate, args.duration, args.concurrency, pid=spid)
        proc = await wait_processed(backend, expected_now(), sv["t_first"], sv["t_last"], args.drain_timeout, spid)
        result["open_loop_only"] = {"bare": b, "service": sv, "processing": proc}
        return await _final_counts(result, backend, children, service_residents)
    if args.ratio_only:
        # Only 1.: bare vs service, closed loop, alternating `--repeat` times (what is left is processed after).
        runs = []
        for _ in range(args.repeat):
            b = await closed_loop(wecom, bare, Residents(next=10_000_000 + 100_000 * len(runs)), args.concurrency,
                                  args.warmup, args.duration, pid=bpid)
            sv = await closed_loop(wecom, svc, service_residents, args.concurrency, args.warmup, args.duration,
                                   max_msgs=args.messages, pid=spid)
            ratio = sv["msgs_per_s"] / b["msgs_per_s"]
            log(f"  bare {b['msgs_per_s']} msgs/s ({b.get('server_cpu_ms_per_msg')} ms CPU), service "
                f"{sv['msgs_per_s']} msgs/s ({sv.get('server_cpu_ms_per_msg')} ms CPU): {ratio:.1%}")
            runs.append(round(ratio, 3))
        result["ratio_only"] = {"ratios": runs, "met": sum(r >= TARGET_RATIO for r in runs)}
        return await _final_counts(result, backend, children, service_residents)
    if args.processing_only:
        # Only 3.: a backlog posted with no worker running, then one worker drains it.
        log(f"posting {args.messages} msgs with no worker running")
        sv = await closed_loop(wecom, svc, service_residents, args.concurrency, 0, 3600, max_msgs=args.messages,
                               pid=spid)
        if split:
            profile = ["-m", "cProfile", "-o", args.profile_worker] if args.profile_worker else []
            children.start("worker", [py, *profile, "-m", "bot", "worker", "--config", str(config)])
        proc = await wait_processed(backend, expected_now(), sv["t_first"], sv["t_last"], args.drain_timeout,
                                    _worker_pid(children, spid))
        proc["messages"] = sv["posted"]
        proc["overall_steps_per_s"] = None
        log(f"  processed: {proc}")
        result["processing"] = {**proc, "target_steps_per_s": TARGET_STEPS, "target_applies": backend.kind == "pg",
                                "met": proc["drain_steps_per_s"] is not None
                                and proc["drain_steps_per_s"] >= TARGET_STEPS}
        return await _final_counts(result, backend, children, service_residents)

    # 1. closed loop: bare, then the service (whose backlog is 3.)
    log(f"closed loop, {args.concurrency} in flight, {args.duration:g} s: bare")
    b = await closed_loop(wecom, bare, Residents(next=10_000_000), args.concurrency, args.warmup, args.duration,
                          pid=bpid)
    log(f"  bare: {b['msgs_per_s']} msgs/s, p50 {b['latency']['p50_ms']} ms, p99 {b['latency']['p99_ms']} ms, "
        f"bare process CPU {b['server_cpu_share']}")
    await asyncio.sleep(0.5)
    log(f"closed loop, {args.concurrency} in flight, {args.duration:g} s or {args.messages} msgs: service")
    sv = await closed_loop(wecom, svc, service_residents, args.concurrency, args.warmup, args.duration,
                           max_msgs=args.messages, pid=spid)
    log(f"  service: {sv['msgs_per_s']} msgs/s over {sv['measured_s']} s, p50 {sv['latency']['p50_ms']} ms, "
        f"p99 {sv['latency']['p99_ms']} ms, service process CPU {sv['server_cpu_share']}")
    if split:
        children.start("worker", [py, "-m", "bot", "worker", "--config", str(config)])
    log(f"  waiting for the service to process the backlog (at most {args.drain_timeout:g} s)")
    proc = await wait_processed(backend, expected_now(), sv["t_first"], sv["t_last"], args.drain_timeout,
                                _worker_pid(children, spid))
    proc["messages"] = sv["posted"]
    proc["overall_steps_per_s"] = round(sv["posted"] / proc["since_first_post_s"], 1) if proc["done"] else None
    log(f"  processed: {proc}")
    ratio = sv["msgs_per_s"] / b["msgs_per_s"] if b["msgs_per_s"] else float("nan")
    result["closed_loop"] = {"bare": b, "service": sv, "ratio": round(ratio, 3), "target_ratio": TARGET_RATIO,
                             "met": ratio >= TARGET_RATIO}
    steps = proc["drain_steps_per_s"]
    result["processing"] = {**proc, "target_steps_per_s": TARGET_STEPS,
                            "target_applies": backend.kind == "pg",
                            "met": (steps is not None and steps >= TARGET_STEPS)}

    # 2. open loop at 200 msgs/s (whatever backlog it leaves is processed after 4.)
    log(f"open loop {args.open_rate:g} msgs/s for {args.open_duration:g} s: service")
    ol = await open_loop(wecom, svc, service_residents, args.open_rate, args.open_duration, args.concurrency,
                         pid=spid)
    after = await backend.counts()
    log(f"  p50 {ol['latency']['p50_ms']} ms, p99 {ol['latency']['p99_ms']} ms; inbox backlog {after['inbox']}")
    result["open_loop"] = {**ol, "inbox_backlog_after": after["inbox"], "target_p99_ms": TARGET_OPEN_P99_MS,
                           "met": ol["latency"]["p99_ms"] < TARGET_OPEN_P99_MS}

    # 4. overload
    capacity = {"processing": steps, "callback": sv["msgs_per_s"]}[args.overload_basis]
    if capacity:
        rate = round(2 * capacity, 1)
        log(f"overload: open loop {rate:g} msgs/s (2x {args.overload_basis} capacity {capacity:g}) "
            f"for {args.overload_duration:g} s")
        ov = await open_loop(wecom, svc, service_residents, rate, args.overload_duration, args.concurrency,
                             pid=spid)
        log(f"  max {ov['latency']['max_ms']} ms, p99 {ov['latency']['p99_ms']} ms; waiting for processing "
            f"(at most {args.final_drain_timeout:g} s)")
        opr = await wait_processed(backend, expected_now(), ov["t_first"], ov["t_last"], args.final_drain_timeout,
                                   _worker_pid(children, spid))
        log(f"  processed: {opr}")
        result["overload"] = {**ov, "basis": args.overload_basis, "capacity": capacity, "processing": opr,
                              "target_max_s": TARGET_MAX_S,
                              "met": ov["latency"]["max_ms"] <= TARGET_MAX_S * 1000 and opr["done"]
                              and ov["unfinished"] == 0}
    else:
        result["overload"] = {"skipped": "no capacity measured"}

    # 5. Feishu
    if feishu is not None:
        if split:
            children.stop("worker")  # bare and service measured alike, with no processing beside them
        log(f"feishu closed loop, {args.concurrency} in flight, {args.duration:g} s: bare")
        fb = await closed_loop(feishu, bare, Residents(next=10_000_000), args.concurrency, args.warmup,
                               args.duration, pid=bpid)
        log("feishu closed loop: service")
        fs = await closed_loop(feishu, svc, service_residents, args.concurrency, args.warmup, args.duration,
                               max_msgs=args.messages, pid=spid)
        if split:
            children.start("worker", [py, "-m", "bot", "worker", "--config", str(config)])
        log(f"  bare {fb['msgs_per_s']} msgs/s, service {fs['msgs_per_s']} msgs/s; waiting for processing")
        fp = await wait_processed(backend, expected_now(), fs["t_first"], fs["t_last"], args.drain_timeout, spid)
        fp["messages"] = fs["posted"]
        fr = fs["msgs_per_s"] / fb["msgs_per_s"] if fb["msgs_per_s"] else float("nan")
        result["feishu"] = {"bare": fb, "service": fs, "ratio": round(fr, 3), "met": fr >= TARGET_RATIO,
                            "processing": fp}
    return await _final_counts(result, backend, children, service_residents)


async def _final_counts(result, backend, children, service_residents) -> dict[str, Any]:
    c = await backend.counts()
    result["final_counts"] = c
    result["residents"] = {"started": service_residents.started, "failed": len(service_residents.failed)}
    text = children.log_text("service")
    result["service_log"] = {"warnings": text.count(" WARNING "), "errors": text.count(" ERROR "),
                             "tracebacks": text.count("Traceback"),
                             "first_problems": [ln for ln in text.splitlines()
                                                if " ERROR " in ln or "Traceback" in ln][:5]}
    return result


def report(res: dict[str, Any]) -> str:
    out = [f"callbacks benchmark: backend {res['backend']}, {res['cpus']} CPUs, concurrency {res['concurrency']}, "
           f"{res.get('processes', 'serve')} (web pid {res['service_pid']})"]
    pg = res["backend"] == "pg"

    def lat(d: dict) -> str:
        return f"p50 {d['p50_ms']:.2f} ms  p99 {d['p99_ms']:.2f} ms  max {d['max_ms']:.1f} ms"

    def cpu(d: dict, key: str = "server_cpu_share") -> str:
        extra = f", load generator {d['client_cpu_share']:.0%}" if "client_cpu_share" in d else ""
        per = f", {d['server_cpu_ms_per_msg']:.2f} ms server CPU/msg" if "server_cpu_ms_per_msg" in d else ""
        return f"[server process CPU {d[key]:.0%}{extra}{per}]"
    if "closed_loop" in res:
        cl = res["closed_loop"]
        out.append("1. closed loop (max throughput, WeCom /wecom/callback)")
        out.append(f"   bare verify+decrypt : {cl['bare']['msgs_per_s']:>8.1f} msgs/s  {lat(cl['bare']['latency'])}  "
                   f"{cpu(cl['bare'])}")
        out.append(f"   service callback    : {cl['service']['msgs_per_s']:>8.1f} msgs/s  "
                   f"{lat(cl['service']['latency'])}  {cpu(cl['service'])}")
        out.append(f"   ratio service/bare  : {cl['ratio'] * 100:.1f} %   (target >= 50 %)  {verdict(cl['met'])}")
    if "open_loop" in res:
        ol = res["open_loop"]
        out.append(f"2. open loop {ol['rate']:g} msgs/s, {ol['messages']} msgs (achieved {ol['achieved_rate']} /s)")
        out.append(f"   service callback    : {lat(ol['latency'])}   (target p99 < 20 ms)  {verdict(ol['met'])}  "
                   f"{cpu(ol)}")
        out.append(f"   inbox backlog when it ended: {ol['inbox_backlog_after']} (processed after 4.)")
    if "processing" in res:
        p = res["processing"]
        out.append(f"3. processing ({p['messages']} msgs posted by run 1, {p['expected_tickets']} tickets expected)")
        out.append(f"   drain of the backlog: {p['backlog_after_posting']} steps in {p['drain_s']} s = "
                   f"{p['drain_steps_per_s']} steps/s   (target >= 500/s per worker on PostgreSQL + Redis)  "
                   f"{verdict(p['met']) if pg else 'n/a (embedded)'}  {cpu(p, 'service_cpu_share')}")
        out.append(f"   with every reply delivered to the fake API: {p['all_sent_s']} s = {p['sent_steps_per_s']} "
                   f"steps/s; all sent: {p['all_sent']}")
        out.append(f"   first post → last ticket: {p['since_first_post_s']} s = {p['overall_steps_per_s']} steps/s "
                   f"(callbacks competing); all processed: {p['done']}; outbox unsent then: "
                   f"{p['outbox_unsent_at_done']}")
    if "overload" in res and "skipped" not in res["overload"]:
        ov = res["overload"]
        op = ov["processing"]
        out.append(f"4. overload: {ov['rate']:g} msgs/s = 2x {ov['basis']} capacity ({ov['capacity']:g}/s), "
                   f"{ov['messages']} msgs (achieved {ov['achieved_rate']} /s)")
        out.append(f"   service callback    : {lat(ov['latency'])}  >1 s: {ov['over_1s']}  >3 s: {ov['over_3s']}  "
                   f">5 s: {ov['over_5s']}  unanswered: {ov['unfinished']}   (target: none later than 3 s)  "
                   f"{cpu(ov)}")
        out.append(f"   afterwards all processed: {op['done']} ({op['tickets']}/{op['expected_tickets']} tickets, "
                   f"backlog {op['backlog_after_posting']} drained in {op['drain_s']} s = {op['drain_steps_per_s']} "
                   f"steps/s)   {verdict(ov['met'])}")
    if "ratio_only" in res:
        r = res["ratio_only"]
        out.append(f"1. ratio service/bare, closed loop, WeCom: {', '.join(f'{x:.1%}' for x in r['ratios'])} "
                   f"(target >= 50 %: met in {r['met']} of {len(r['ratios'])})")
    if "open_loop_only" in res:
        ol = res["open_loop_only"]
        out.append(f"open loop {ol['service']['rate']:g} msgs/s, {ol['service']['messages']} msgs")
        out.append(f"   bare    : {lat(ol['bare']['latency'])}  (achieved {ol['bare']['achieved_rate']} /s)  "
                   f"{cpu(ol['bare'])}")
        out.append(f"   service : {lat(ol['service']['latency'])}  (achieved {ol['service']['achieved_rate']} /s)  "
                   f"{cpu(ol['service'])}")
        pr = ol["processing"]
        out.append(f"   all processed: {pr['done']} ({pr['tickets']}/{pr['expected_tickets']} tickets), "
                   f"{pr['since_first_post_s']} s after the first post; drain {pr['drain_steps_per_s']} steps/s")
    if "feishu" in res:
        f = res["feishu"]
        out.append("5. Feishu closed loop (/feishu/events)")
        out.append(f"   bare verify+decrypt : {f['bare']['msgs_per_s']:>8.1f} msgs/s  {lat(f['bare']['latency'])}")
        out.append(f"   service callback    : {f['service']['msgs_per_s']:>8.1f} msgs/s  {lat(f['service']['latency'])}")
        out.append(f"   ratio service/bare  : {f['ratio'] * 100:.1f} %   (target >= 50 %)  {verdict(f['met'])}")
        fp = f["processing"]
        out.append(f"   processing: drain {fp['backlog_after_posting']} steps in {fp['drain_s']} s = "
                   f"{fp['drain_steps_per_s']} steps/s; all processed: {fp['done']}")
    fc = res.get("final_counts", {})
    out.append(f"final: {fc.get('tickets')} tickets for {res['residents']['started']} residents "
               f"({res['residents']['failed']} with a failed callback); inbox {fc.get('inbox')}, "
               f"outbox unsent {fc.get('outbox')}; service log: {res['service_log']['errors']} errors, "
               f"{res['service_log']['warnings']} warnings")
    for ln in res["service_log"]["first_problems"]:
        out.append(f"   {ln}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backend", choices=("pg", "embedded"), default="pg")
    p.add_argument("--duration", type=float, default=5.0, help="closed-loop measured seconds (default 5)")
    p.add_argument("--warmup", type=float, default=0.5)
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight = client connection limit")
    p.add_argument("--rate", type=float, default=0.0, help="open-loop fixed-rate mode: bare vs service at RATE msgs/s")
    p.add_argument("--open-rate", type=float, default=200.0)
    p.add_argument("--open-duration", type=float, default=15.0)
    p.add_argument("--overload-duration", type=float, default=30.0)
    p.add_argument("--overload-basis", choices=("processing", "callback"), default="processing")
    p.add_argument("--messages", type=int, default=2500,
                   help="the service's closed-loop run also stops after this many messages (its backlog is "
                        "what 3. times; 0: no limit)")
    p.add_argument("--drain-timeout", type=float, default=90.0, help="longest wait for a backlog to go")
    p.add_argument("--final-drain-timeout", type=float, default=120.0,
                   help="longest wait, after the overload, for every message to be processed")
    p.add_argument("--feishu", action="store_true", help="also Feishu /feishu/events vs a bare Feishu handler")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    p.add_argument("--timeout", type=float, default=600.0, help="watchdog: end everything after this many s")
    p.add_argument("--ratio-only", action="store_true", help="only 1.: bare vs service closed loop, --repeat times")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--processing-only", action="store_true",
                   help="only 3.: post --messages callbacks with the worker stopped, then time one worker's drain")
    p.add_argument("--profile-worker", metavar="FILE", help="with --processing-only: cProfile the worker into FILE")
    p.add_argument("--single-process", action="store_true",
                   help="pg: run webhooks and processing in one `serve` (default: serve --web-only + worker)")
    p.add_argument("--serve-fake-api", type=int, metavar="PORT", help=argparse.SUPPRESS)
    p.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    p.add_argument("--creds", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve_fake_api:
        return serve_fake_api(args.serve_fake_api, args.creds)
    if args.serve_bare:
        return serve_bare(args.serve_bare, args.creds)
    if bool(args.feishu) and not (ROOT / "bot" / "feishu").is_dir():
        p.error("--feishu: bot/feishu does not exist")

    tmp = Path(tempfile.mkdtemp(prefix="rb_bench_callbacks_"))
    backend = Backend(args.backend, tmp)
    children = Children(tmp)

    def watchdog() -> None:
        log(f"watchdog: still running after {args.timeout:g} s; stopping everything")
        children.stop_all()
        backend.cleanup()
        os._exit(3)
    timer = threading.Timer(args.timeout, watchdog)
    timer.daemon = True
    timer.start()
    code = 0
    try:
        res = asyncio.run(_main(args, tmp, backend, children))
        if args.json:
            print(json.dumps(res, ensure_ascii=False, indent=2, default=str))
        else:
            print(report(res), flush=True)
    except Exception as e:
        log(f"benchmark failed: {e}")
        code = 1
    finally:
        timer.cancel()
        children.stop_all()
        backend.cleanup()
        if args.keep or code:
            log(f"logs kept in {tmp}")
        else:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
    return code


async def _main(args, tmp, backend, children) -> dict[str, Any]:
    try:
        return await run(args, tmp, backend, children)
    finally:
        await backend.aclose()
        if backend._redis is not None:
            await backend._redis.aclose()


if __name__ == "__main__":
    raise SystemExit(main())
