"""Intake benchmark: complete chat conversations through the conversation engine, no HTTP.

Each conversation is one resident reporting a fault in three messages
(fault + place → name + phone → 确认) and ends with a ticket. A "step" is one
`Engine.handle` call: take the conversation lock, load the draft, run one step
of the intake, save the draft (and, on 确认, write the ticket).

    python bench/intake.py                      # both backends, 300 conversations each, 1 in flight
    python bench/intake.py --backend pg -n 1000 --concurrency 50 --json

Backends:
  embedded  SQLite file (aiosqlite) in a temporary directory + in-process memory state
  pg        PostgreSQL at 127.0.0.1:5432 (a fresh database, created and dropped here)
            + Redis at 127.0.0.1:6379/0 (a unique key prefix, deleted afterwards)

The script talks to nothing but 127.0.0.1, and every backend run is bounded by --timeout:
past it no new step starts (a step already running is let finish: cancelling one mid-flight can
leave aiosqlite connections that never close), and a watchdog ends the process if even that hangs.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as `python bench/intake.py` without installing the project
    sys.path.insert(0, str(ROOT))

# Local services only: the benchmark never reaches beyond this machine.
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL_TEMPLATE = "postgresql+asyncpg://postgres@127.0.0.1:5432/{db}"
REDIS_URL = "redis://127.0.0.1:6379/0"

TARGET_P99_MS = 5.0
TARGET_TEXT = "a full step (lock, load, step, save) under 5 ms p99 on Redis"
MESSAGES = ("fault+place", "name+phone", "确认→ticket")
CONNECT_TIMEOUT = 5.0
WATCHDOG_GRACE = 30.0  # seconds past --timeout before the watchdog ends the process
_IN_USE: dict[str, str] = {}  # what a hard exit would leave behind, for the watchdog to name


class Deadline:
    """Cooperative stop: checked before every step, so no engine call is ever cancelled half-way."""

    def __init__(self, name: str, seconds: float) -> None:
        self.name, self.seconds = name, seconds
        self.at = time.monotonic() + seconds
        self.failed = False  # set by the first worker that fails, so the others stop too

    def check(self) -> None:
        if self.failed:
            raise _Stopped()
        if time.monotonic() > self.at:
            raise BenchError(f"{self.name}: gave up after {self.seconds:g} s "
                             f"(use a smaller -n or a larger --timeout)")


class _Stopped(Exception):
    """Another worker failed first; this one just stops."""


class BenchError(RuntimeError):
    """The benchmark could not run or a conversation did not end as it should."""


# ---- statistics -----------------------------------------------------------------------------------

def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile (the smallest sample with at least p% of samples at or below it)."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100), at least 1
    return ordered[int(rank) - 1]


def summarize(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p90_ms": round(percentile(ms, 90), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(max(ms), 3) if ms else float("nan"),
        "mean_ms": round(sum(ms) / len(ms), 3) if ms else float("nan"),
    }


@dataclass
class Result:
    backend: str
    stack: str
    conversations: int
    concurrency: int
    warmup: int
    wall_s: float
    conversations_per_s: float
    steps_per_s: float
    step: dict[str, float]
    per_message: dict[str, dict[str, float]] = field(default_factory=dict)
    tickets: int = 0
    target_p99_ms: float = TARGET_P99_MS
    target_applies: bool = False
    target_met: bool | None = None


# ---- the conversations ----------------------------------------------------------------------------

def script_for(i: int) -> tuple[str, tuple[str, ...]]:
    """Resident i: its own user id and a place no other resident reports (so BR-4 never merges them)."""
    building, room = i % 50 + 1, 100 + i
    return f"bench-{i}", (f"{building}栋2单元{room}卫生间水管漏水", "王女士 13812345678", "确认")


async def converse(engine, i: int, timings: list[list[float]] | None, deadline: Deadline) -> None:
    from conversations.messages import InboundMessage

    user, texts = script_for(i)
    replies = []
    for step, text in enumerate(texts):
        deadline.check()
        # Platforms give every message an id; the engine keeps the last one to answer a redelivery.
        msg = InboundMessage(channel="sim", chat=user, user=user, text=text, message_id=f"{user}-{step}")
        t0 = time.perf_counter()
        replies = await engine.handle(msg)
        elapsed = time.perf_counter() - t0
        if timings is not None:
            timings[step].append(elapsed)
    last = " / ".join(r.text for r in replies)
    if "BX" not in last:
        raise BenchError(f"conversation {i} ({user}) ended without a ticket; last replies: {last!r}")


async def run_conversations(engine, indices: range, concurrency: int,
                            timings: list[list[float]] | None, deadline: Deadline) -> None:
    """`concurrency` residents in flight at once, each typing its three messages in order.

    Workers are never cancelled: on the first failure the others finish the step they are in and stop.
    """
    queue = iter(indices)

    async def worker() -> None:
        try:
            for i in queue:  # a shared iterator: each worker takes the next resident when it is done
                await converse(engine, i, timings, deadline)
        except BaseException:
            deadline.failed = True
            raise

    workers = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, len(indices))))]
    outcomes = await asyncio.gather(*workers, return_exceptions=True)
    errors = [e for e in outcomes if isinstance(e, BaseException) and not isinstance(e, _Stopped)]
    if errors:
        raise errors[0]


async def count_tickets(sessions) -> int:
    from sqlalchemy import func, select

    from store.models import Ticket

    async with sessions() as session:
        return (await session.execute(select(func.count(Ticket.id)))).scalar_one()


def build_engine(sessions, storage, media_dir: Path):
    from conversations.classify import load_rules
    from conversations.engine import Deps, Engine, IntakeLimits
    from dispatch.duty import Duty
    from store.clock import Clock
    from store.media import MediaStore
    from templates.texts import Texts

    return Engine(Deps(texts=Texts("Asia/Shanghai"), rules=load_rules(None), sessions=sessions,
                       storage=storage, media=MediaStore(media_dir), clock=Clock(), intake=IntakeLimits(),
                       duty=Duty()))   # as the service runs: the desk on duty hears of each new ticket (BR-3)


async def measure(name: str, stack: str, db_url: str, redis_url: str, prefix: str, workdir: Path,
                  n: int, concurrency: int, warmup: int, deadline: Deadline) -> Result:
    from conversations.storage import make_storage
    from store.db import make_database, make_sessionmaker, migrate_sync

    await asyncio.to_thread(migrate_sync, db_url)  # Alembic runs its own event loop
    db = make_database(db_url)  # the service's defaults: pool of 10 for PostgreSQL
    storage = make_storage(redis_url, prefix=prefix)
    try:
        if not await storage.ping():
            raise BenchError(f"{name}: state storage did not answer a ping")
        sessions = make_sessionmaker(db)
        engine = build_engine(sessions, storage, workdir / "media")

        # Warm-up: template compilation, connection pools, statement caches.
        await run_conversations(engine, range(warmup), concurrency, None, deadline)
        # As the service does once started (bot.app): what start-up built is kept out of the collector's scans.
        gc.collect()
        gc.freeze()

        timings: list[list[float]] = [[] for _ in MESSAGES]
        t0 = time.perf_counter()
        await run_conversations(engine, range(warmup, warmup + n), concurrency, timings, deadline)
        wall = time.perf_counter() - t0

        tickets = await count_tickets(sessions)
        if tickets != warmup + n:
            raise BenchError(f"{name}: expected {warmup + n} tickets in the database, found {tickets}")
    finally:
        await storage.close()
        await db.dispose()

    steps = [s for per in timings for s in per]
    result = Result(
        backend=name, stack=stack, conversations=n, concurrency=concurrency, warmup=warmup,
        wall_s=round(wall, 3), conversations_per_s=round(n / wall, 1), steps_per_s=round(len(steps) / wall, 1),
        step=summarize(steps), per_message={label: summarize(per) for label, per in zip(MESSAGES, timings)},
        tickets=tickets, target_applies=name == "pg",
    )
    if result.target_applies:
        result.target_met = result.step["p99_ms"] < TARGET_P99_MS
    return result


# ---- the two backends -----------------------------------------------------------------------------

async def bench_embedded(n: int, concurrency: int, warmup: int, deadline: Deadline) -> Result:
    workdir = Path(tempfile.mkdtemp(prefix="rb-bench-"))
    _IN_USE.update(directory=str(workdir))
    try:
        db_url = f"sqlite+aiosqlite:///{workdir / 'repairbot.db'}"
        return await measure("embedded", "SQLite file + memory state", db_url, "", "unused", workdir,
                             n, concurrency, warmup, deadline)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        _IN_USE.clear()


async def _pg_admin(sql: str) -> None:
    import asyncpg

    try:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=CONNECT_TIMEOUT)
    except (OSError, asyncio.TimeoutError) as e:
        raise BenchError(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {e}") from e
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _redis_cleanup(prefix: str) -> int:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=CONNECT_TIMEOUT)
    try:
        deleted = 0
        async for key in client.scan_iter(match=f"{prefix}:*", count=500):
            deleted += await client.delete(key)
        return deleted
    finally:
        await client.aclose()


async def _redis_check() -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=CONNECT_TIMEOUT)
    try:
        await client.ping()
    except (OSError, Exception) as e:  # redis raises its own ConnectionError / TimeoutError
        raise BenchError(f"Redis at {REDIS_URL} is not reachable: {e}") from e
    finally:
        await client.aclose()


async def bench_pg(n: int, concurrency: int, warmup: int, deadline: Deadline) -> Result:
    await _redis_check()
    dbname = f"rb_bench_{uuid.uuid4().hex[:10]}"
    prefix = f"rbbench:{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix="rb-bench-"))
    await _pg_admin(f'CREATE DATABASE "{dbname}"')
    _IN_USE.update(database=dbname, redis_keys=f"{prefix}:*", directory=str(workdir))
    try:
        return await measure("pg", "PostgreSQL + Redis", PG_URL_TEMPLATE.format(db=dbname), REDIS_URL, prefix,
                             workdir, n, concurrency, warmup, deadline)
    finally:
        results = await asyncio.gather(
            _pg_admin(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'),
            _redis_cleanup(prefix), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                print(f"warning: cleanup failed ({dbname}, {prefix}:*): {r}", file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)
        _IN_USE.clear()


BACKENDS = {"embedded": bench_embedded, "pg": bench_pg}


async def run_backend(name: str, n: int, concurrency: int, warmup: int, timeout: float) -> Result:
    return await BACKENDS[name](n, concurrency, warmup, Deadline(name, timeout))


def start_watchdog(name: str, seconds: float) -> threading.Timer:
    """The last resort when a step or a cleanup hangs past the cooperative deadline."""
    def fire() -> None:
        left = ", ".join(f"{k} {v}" for k, v in _IN_USE.items()) or "nothing"
        print(f"FAILED: {name}: still running {seconds:g} s after it started; exiting. Left behind: {left}",
              file=sys.stderr, flush=True)
        os._exit(3)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


# ---- output ---------------------------------------------------------------------------------------

def machine() -> dict[str, str | int]:
    return {
        "nproc": os.cpu_count() or 0,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": f"{platform.system()} {platform.machine()}",
    }


def fmt_ms(v: float) -> str:
    return f"{v:.2f} ms"


def table(rows: list[list[str]], left: int = 1) -> str:
    """Plain-text columns: the first `left` columns flush left, the figures flush right."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = []
    for k, r in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) if c < left else cell.rjust(w)
                               for c, (cell, w) in enumerate(zip(r, widths))).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report(results: list[Result], m: dict, n: int, concurrency: int, warmup: int) -> str:
    out = [
        f"machine: nproc={m['nproc']}, {m['python']}, {m['platform']}",
        f"{n} conversations x {len(MESSAGES)} messages per backend ({warmup} warm-up), "
        f"{concurrency} conversations in flight",
        f'target (issue): "{TARGET_TEXT}"',
        "",
    ]
    rows = [["backend", "stack", "conv/s", "steps/s", "step p50", "step p99", "max", "p99 target"]]
    for r in results:
        if r.target_applies:
            target = f"< {TARGET_P99_MS:g} ms: {'met' if r.target_met else 'MISSED'}"
        else:
            target = "(Redis only)"
        rows.append([r.backend, r.stack, f"{r.conversations_per_s:.1f}", f"{r.steps_per_s:.1f}",
                     fmt_ms(r.step["p50_ms"]), fmt_ms(r.step["p99_ms"]), fmt_ms(r.step["max_ms"]), target])
    out.append(table(rows, left=2))
    out.append("")
    out.append("per message (p50 / p99):")
    rows = [["backend", *MESSAGES]]
    for r in results:
        rows.append([r.backend, *(f"{s['p50_ms']:.2f} / {s['p99_ms']:.2f} ms" for s in r.per_message.values())])
    out.append(table(rows))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=("embedded", "pg", "both"), default="both")
    ap.add_argument("-n", "--conversations", type=int, default=300, help="measured conversations per backend")
    ap.add_argument("--concurrency", type=int, default=1,
                    help="conversations in flight at once (default 1: a step's own latency; more measures "
                         "throughput, and each step's p99 then includes waiting for the others on the one loop)")
    ap.add_argument("--warmup", type=int, default=10, help="conversations run before measuring")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds one backend may take before it stops (default 120)")
    ap.add_argument("--json", action="store_true", help="also print the results as one JSON object")
    args = ap.parse_args(argv)
    if args.conversations < 1 or args.concurrency < 1 or args.warmup < 0 or args.timeout <= 0:
        ap.error("-n and --concurrency must be at least 1, --warmup at least 0, --timeout positive")

    names = ["embedded", "pg"] if args.backend == "both" else [args.backend]
    m = machine()
    results: list[Result] = []
    failed: list[str] = []
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        watchdog = start_watchdog(name, args.timeout + WATCHDOG_GRACE)
        try:
            results.append(asyncio.run(run_backend(name, args.conversations, args.concurrency, args.warmup,
                                                   args.timeout)))
        except BenchError as e:
            print(f"FAILED: {e}", file=sys.stderr)
            failed.append(name)
        finally:
            watchdog.cancel()
    if results:
        print(report(results, m, args.conversations, args.concurrency, args.warmup))
    if args.json:
        print(json.dumps({"machine": m, "target": {"text": TARGET_TEXT, "p99_ms": TARGET_P99_MS},
                          "results": [asdict(r) for r in results], "failed": failed}, ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
