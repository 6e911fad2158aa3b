"""Timers benchmark (issue 11): one scheduler tick over 1,000,000 tickets of which 7 % are overdue, on PostgreSQL,
with and without the partial index over pending timers, in one run.

    python bench/timers.py                 # seed repairbot_bench_timers once (kept), then measure
    python bench/timers.py --reseed        # drop the database and seed it again
    python bench/timers.py --json          # also one JSON object with every figure

The data set: --tickets tickets (COPY), each with its respond chain's three escalation timers (100 % → the
supervisor, +30 min → the manager, +2 h → the director), so 3,000,000 timer rows by default:
  * 7 % overdue: still open, their first step due in the last hour (pending), the next two ahead (pending);
  * 13 % open and in time: three pending steps, all ahead;
  * 80 % finished: their steps done or cancelled long ago (what a live table mostly holds).

A tick is what each worker's sweep runs every `[sla] scan_interval` (dispatch.timers.due_query): the next 100
due, pending timers nobody holds, oldest first, `FOR UPDATE SKIP LOCKED`, in a transaction that is rolled back
so every tick sees the same table. With the partial index (ix_timers_pending: due_at WHERE status = 'pending',
migration 0011) and then, after DROP INDEX, without it (the index is built again at the end); also an idle tick
(nothing due yet), and the whole lease through the project's code (dispatch.timers.lease: that query and the
UPDATE that leases the 100 rows it found — work that grows with what is due, not with the table). Target: a
tick under 2 ms.

The script talks to nothing but PostgreSQL at 127.0.0.1, and a watchdog ends it after --timeout seconds.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as `python bench/timers.py` without installing the project
    sys.path.insert(0, str(ROOT))

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DSN_TEMPLATE = "postgresql://postgres@127.0.0.1:5432/{db}"
PG_URL_TEMPLATE = "postgresql+asyncpg://postgres@127.0.0.1:5432/{db}"
DEFAULT_DB = "repairbot_bench_timers"
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 29, 23, 0, tzinfo=TZ)
OVERDUE, OPEN = 0.07, 0.13
TARGET_MS = 2.0
BATCH = 100
STEPS = ((0, "supervisor", "100%"), (1800, "manager", "+30m"), (7200, "director", "+2h"))
TICKET_COLS = ("id", "number", "property", "status", "area", "location", "location_key", "reporter_name", "phone",
               "description", "category", "trade", "channel", "reporter_channel", "reporter_chat", "reporter_user",
               "visit_text", "created_at", "version")
TIMER_COLS = ("key", "kind", "ticket_id", "due_at", "status", "claimed_by", "done_at", "details")
INDEX = "ix_timers_pending"
CREATE_INDEX = f"CREATE INDEX {INDEX} ON timers (due_at) WHERE status = 'pending'"
WATCHDOG_GRACE = 30.0


def _kind_of(i: int, rng: random.Random) -> str:
    r = rng.random()
    return "overdue" if r < OVERDUE else "open" if r < OVERDUE + OPEN else "done"


def _rows(n: int, seed: int):
    """(ticket rows, timer rows) generators; deterministic for `seed`."""
    rng = random.Random(seed)
    kinds = [_kind_of(i, rng) for i in range(n)]

    def tickets():
        for i, kind in enumerate(kinds, start=1):
            created = NOW - timedelta(minutes=25 + (i % 40)) if kind == "overdue" else \
                NOW - timedelta(minutes=i % 15) if kind == "open" else NOW - timedelta(days=1 + i % 365)
            status = "dispatched" if kind != "done" else "closed"
            yield (i, f"BX{created.astimezone(TZ):%Y%m%d}-{i:07d}", "default", status, "unit", f"{i % 30}栋{i % 999}室",
                   f"{i % 30}-{i % 999}", "王女士", "13812345678", "水管漏水", "daily", "plumbing", "wecom_kf", "wecom_kf",
                   f"r{i}", f"r{i}", "", created, 1)

    def timers():
        for i, kind in enumerate(kinds, start=1):
            created = NOW - timedelta(minutes=25 + (i % 40)) if kind == "overdue" else \
                NOW - timedelta(minutes=i % 15) if kind == "open" else NOW - timedelta(days=1 + i % 365)
            due = created + timedelta(seconds=1200)
            for step, (offset, notify, at) in enumerate(STEPS):
                at_time = due + timedelta(seconds=offset)
                if kind == "done":
                    status, done = ("done", at_time) if step == 0 else ("cancelled", None)
                else:
                    status, done = "pending", None
                yield (f"esc:{i}:respond:{step}", "escalation", i, at_time, status, "", done,
                       json.dumps({"clock": "respond", "step": step, "at": at, "notify": notify}))
    return kinds, tickets(), timers()


async def _seed(db: str, n: int, seed: int, reseed: bool) -> dict:
    import asyncpg

    from store.db import migrate

    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db)
        if exists and reseed:
            await admin.execute(f'DROP DATABASE "{db}" WITH (FORCE)')
            exists = False
        if not exists:
            await admin.execute(f'CREATE DATABASE "{db}"')
    finally:
        await admin.close()
    await migrate(PG_URL_TEMPLATE.format(db=db))
    conn = await asyncpg.connect(PG_DSN_TEMPLATE.format(db=db))
    try:
        have = await conn.fetchval("SELECT count(*) FROM tickets")
        if have == n:
            return {"seeded": False, "seconds": 0.0}
        t0 = time.perf_counter()
        await conn.execute("TRUNCATE tickets, timers RESTART IDENTITY CASCADE")
        kinds, tickets, timers = _rows(n, seed)
        # Secondary indexes go before the COPY and are built again after it (faster than keeping them up).
        await conn.execute(f"DROP INDEX IF EXISTS {INDEX}")
        await conn.copy_records_to_table("tickets", columns=TICKET_COLS, records=tickets)
        await conn.execute("SELECT setval('tickets_id_seq', (SELECT max(id) FROM tickets))")
        await conn.copy_records_to_table("timers", columns=TIMER_COLS, records=timers)
        await conn.execute(CREATE_INDEX)
        await conn.execute("ANALYZE tickets")
        await conn.execute("ANALYZE timers")
        return {"seeded": True, "seconds": round(time.perf_counter() - t0, 1)}
    finally:
        await conn.close()


DUE_SQL = ("SELECT id FROM timers WHERE status = 'pending' AND due_at <= $1 "
           "AND (lease_until IS NULL OR lease_until <= $1) ORDER BY due_at LIMIT 100 FOR UPDATE SKIP LOCKED")


async def _ticks(conn, now: datetime, count: int) -> list[float]:
    """`count` scheduler ticks: the sweep's query for the next BATCH due timers (dispatch.timers.due_query, as
    SQL), each in a transaction rolled back; ms each."""
    out = []
    for _ in range(count):
        t0 = time.perf_counter()
        tx = conn.transaction()
        await tx.start()
        rows = await conn.fetch(DUE_SQL, now)
        await tx.rollback()
        out.append((time.perf_counter() - t0) * 1000)
        assert now < NOW or len(rows) == BATCH, len(rows)
    return out


async def _leases(sessions, now: datetime, count: int) -> list[float]:
    """`count` full leases through the project's code (dispatch.timers.lease: the query, then the UPDATE of the
    BATCH rows it found, through SQLAlchemy), each rolled back; ms each."""
    from dispatch.timers import lease

    out = []
    for _ in range(count):
        async with sessions() as s:
            t0 = time.perf_counter()
            tx = await s.begin()
            leased = await lease(s, now, "bench", BATCH)
            await tx.rollback()
            out.append((time.perf_counter() - t0) * 1000)
        assert len(leased) == BATCH, len(leased)
    return out


def _summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"ticks": len(samples), "median_ms": round(statistics.median(samples), 3),
            "mean_ms": round(statistics.fmean(samples), 3),
            "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 3)}


async def _measure(db: str, ticks: int, slow_ticks: int) -> dict:
    import asyncpg

    from store.db import make_database, make_sessionmaker

    engine = make_database(PG_URL_TEMPLATE.format(db=db), pool_size=2)
    sessions = make_sessionmaker(engine)
    conn = await asyncpg.connect(PG_DSN_TEMPLATE.format(db=db))
    try:
        due = await conn.fetchval("SELECT count(*) FROM timers WHERE status = 'pending' AND due_at <= $1", NOW)
        total = await conn.fetchval("SELECT count(*) FROM timers")
        tickets = await conn.fetchval("SELECT count(*) FROM tickets")
        await conn.execute(f"DROP INDEX IF EXISTS {INDEX}")
        await conn.execute(CREATE_INDEX)
        await conn.execute("ANALYZE timers")
        await _ticks(conn, NOW, 10)                                       # warm the cache
        with_index = await _ticks(conn, NOW, ticks)
        idle = await _ticks(conn, NOW - timedelta(days=400), ticks)       # nothing due yet
        await _leases(sessions, NOW, 5)
        leases = await _leases(sessions, NOW, ticks)
        plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + DUE_SQL, NOW))
        await conn.execute(f"DROP INDEX {INDEX}")
        await conn.execute("ANALYZE timers")
        try:
            await _ticks(conn, NOW, 2)
            without = await _ticks(conn, NOW, slow_ticks)
        finally:
            await conn.execute(CREATE_INDEX)
            await conn.execute("ANALYZE timers")
    finally:
        await conn.close()
        await engine.dispose()
    return {"tickets": tickets, "timers": total, "due": due, "with_index": _summary(with_index),
            "idle_with_index": _summary(idle), "lease_with_index": _summary(leases),
            "without_index": _summary(without), "plan_with_index": plan}


def _machine() -> dict:
    return {"nproc": os.cpu_count() or 0, "python": f"{platform.python_implementation()} {platform.python_version()}",
            "platform": f"{platform.system()} {platform.machine()}"}


def start_watchdog(seconds: float) -> threading.Timer:
    def fire() -> None:
        print(f"FAILED: still running after {seconds:g} s; the watchdog ends the process", file=sys.stderr, flush=True)
        os._exit(2)
    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", default=DEFAULT_DB)
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--reseed", action="store_true")
    ap.add_argument("--ticks", type=int, default=200, help="ticks measured with the index (and idle)")
    ap.add_argument("--slow-ticks", type=int, default=20, help="ticks measured without the index")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds before the watchdog ends the run")
    args = ap.parse_args(argv)
    watchdog = start_watchdog(args.timeout + WATCHDOG_GRACE)
    try:
        seeded = asyncio.run(_seed(args.database, args.tickets, args.seed, args.reseed))
        result = asyncio.run(_measure(args.database, args.ticks, args.slow_ticks))
    finally:
        watchdog.cancel()
    result.update(seeded=seeded, machine=_machine(), batch=BATCH)
    w, i, le, wo = (result["with_index"], result["idle_with_index"], result["lease_with_index"],
                    result["without_index"])
    print(f"timers bench: {result['tickets']:,} tickets, {result['timers']:,} timers, {result['due']:,} due "
          f"(7 % of tickets overdue); a tick reads the next {BATCH} ({_machine()['nproc']} CPUs)")
    if seeded["seeded"]:
        print(f"seeded in {seeded['seconds']} s")
    print(f"{'':24}{'median':>10}{'mean':>10}{'p95':>10}   ticks")
    for name, s in (("with the partial index", w), ("  idle (nothing due)", i), (f"  + lease {BATCH} (UPDATE)", le),
                    ("without the index", wo)):
        print(f"{name:24}{s['median_ms']:>8.3f}ms{s['mean_ms']:>8.3f}ms{s['p95_ms']:>8.3f}ms   {s['ticks']}")
    ok = w["median_ms"] < TARGET_MS
    print(f"target: a tick (median) under {TARGET_MS:g} ms with the index: {'met' if ok else 'MISSED'} "
          f"(without it {wo['median_ms'] / max(w['median_ms'], 1e-9):.0f}x slower)")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
