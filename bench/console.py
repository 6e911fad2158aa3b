"""Console benchmark (issue 13): the desk's filtered ticket list, the monthly report and the XLSX registers,
on PostgreSQL with 1,000,000 tickets seeded with COPY.

    python bench/console.py                      # seed repairbot_bench_console once (kept), then measure
    python bench/console.py --reseed             # drop the database and seed it again
    python bench/console.py --json               # also one JSON object with every figure
    python bench/console.py --database repairbot_bench_lifecycle --no-seed --month 2026-10
                                                 # measure on another bench's seeded tickets

What it measures, each against the issue's target:
  xlsx     the densest whole month's workbook (summary + both registers, bot/api/report_workbook.py, about
           100,000 rows) written to a temporary file; the growth of the process's resident memory meanwhile,
           measured first so that nothing big was loaded before                                 < 200 MB
  list     dispatch.tickets.list_tickets (count + one page of 50, with the events, photos and assignee the
           ORM loads with each ticket) under seven filters the desk uses; p95 over those calls   < 100 ms
           (the unfiltered list is shown beside them: it counts all the million, and has no target)
  report   dispatch.reports.report for that month, three times                                   < 2 s

--proposed-indexes builds the indexes a run proposes (PROPOSED_INDEXES); without it they are dropped, so a run
measures the schema the migrations make. The two the first runs showed missing (created_at, id) and (building,
created_at) are made by migration 0009 now: none is proposed.

The data set (deterministic for --seed): --tickets over --days days ending on 2026-11-29 (3,333 a day by
default, so a month holds ~100,000), every status of the lifecycle in the last 30 days and closed or
cancelled before, timestamps from the report to 接单, 到场 and 完工 drawn per category, agreed quotes and
approved 签免 waivers, scores, warranty repairs, a roster of technicians per trade, and the audit events of the
last 60 days. Loading drops the secondary indexes and builds them again after the COPY, then ANALYZE.

The script talks to nothing but PostgreSQL at 127.0.0.1, and a watchdog ends it after --timeout seconds.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import platform
import random
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable as `python bench/console.py` without installing the project
    sys.path.insert(0, str(ROOT))

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DSN_TEMPLATE = "postgresql://postgres@127.0.0.1:5432/{db}"
PG_URL_TEMPLATE = "postgresql+asyncpg://postgres@127.0.0.1:5432/{db}"
DEFAULT_DB = "repairbot_bench_console"
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 29, 23, 0, tzinfo=TZ)     # the data set's "now": its last report is just before
SEED_KEY = "bench_console_seed"

TARGET_LIST_P95_MS = 100.0
TARGET_REPORT_S = 2.0
TARGET_XLSX_MB = 200.0
XLSX_ROWS = 100_000

# (trade, weight among reports, technicians)
TRADES = (("plumbing", 30, 6), ("electrical", 20, 5), ("doors_windows", 12, 3), ("civil", 10, 3),
          ("hvac", 8, 3), ("weak_current", 6, 2), ("elevator", 5, 2), ("fire", 3, 2), ("other", 6, 2))
FAULTS = {
    "plumbing": ("卫生间水管漏水", "厨房下水道堵塞", "马桶水箱不停进水", "阳台地漏返味"),
    "electrical": ("客厅插座没电", "卧室灯不亮", "空开总跳闸", "楼道灯不亮"),
    "doors_windows": ("入户门锁打不开", "窗户关不严", "单元门闭门器坏了"),
    "civil": ("墙面渗水起皮", "地砖空鼓", "天花板掉灰"),
    "hvac": ("空调不制冷", "地暖不热", "新风机有异响"),
    "weak_current": ("可视对讲没声音", "门禁刷卡没反应"),
    "elevator": ("电梯按钮失灵", "电梯门关不上"),
    "fire": ("消防栓箱门坏了", "烟感一直响"),
    "other": ("信报箱锁坏了", "垃圾房门坏了"),
}
UNIT_ROOMS = ("卫生间", "厨房", "客厅", "主卧", "阳台")
PUBLIC_PLACES = ("大堂", "电梯厅", "楼道", "地下车库", "单元门口")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
CHANNELS = ("wecom_kf",) * 6 + ("wechat_mp",) * 3 + ("wecom",)
HOLD_REASONS = ("等配件", "等厂家上门", "需专业施工队", "等业主确认方案")
PRICES = ((30, "上门维修费"), (80, "更换水龙头"), (120, "更换角阀"), (260, "更换马桶配件"), (650, "更换存水弯"))
RECENT = (("submitted", 1), ("dispatched", 9), ("accepted", 13), ("on_site", 14), ("quoted", 7),
          ("quote_accepted", 6), ("on_hold", 5), ("rework", 2), ("rejected", 2), ("completed", 10),
          ("verified", 8), ("closed", 20), ("cancelled", 3))
OLD = (("closed", 93), ("cancelled", 5), ("verified", 2))
STAGE = {"submitted": 0, "dispatched": 0, "cancelled": 0, "accepted": 1, "on_site": 2, "quoted": 2,
         "quote_accepted": 2, "on_hold": 2, "rejected": 2, "rework": 3, "completed": 3, "verified": 4, "closed": 5}
# Indexes a run proposes: --proposed-indexes builds them here; without it they are dropped, so the figures are
# those of the schema the migrations make. What the first runs found missing — created_at had no index of its
# own, so "newest first" and every date range read the whole table, and a building had none either — is made
# by migration 0009 (ix_tickets_created, ix_tickets_building_created): it is no proposal any more, and must
# not be dropped.
PROPOSED_INDEXES: dict[str, str] = {}
BACKLOG_DAYS = 30
EVENT_DAYS = 60
WATCHDOG_GRACE = 30.0

TICKET_COLS = (
    "id", "number", "property", "status", "area", "location", "location_key", "building", "reporter_name", "phone",
    "description", "category", "trade", "channel", "reporter_channel", "reporter_chat", "reporter_user",
    "visit_text", "assignee_id", "created_at", "dispatched_at", "accepted_at", "arrived_at", "completed_at", "closed_at",
    "quote", "fee", "rating", "version", "awaiting", "quote_items", "quote_status", "waiver", "materials",
    "work_minutes", "hold_reason", "held_from", "signoff", "verified_at", "survey", "warranty_of")
EVENT_COLS = ("ticket_id", "at", "actor", "channel", "action", "from_status", "to_status", "details")
PERSON_COLS = ("id", "property", "name", "role", "phone", "trades", "created_at")


class BenchError(RuntimeError):
    """The benchmark could not run."""


# ---- statistics and output ------------------------------------------------------------------------------

def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile (the smallest sample with at least p% of samples at or below it)."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(len(ordered) * p / 100)) - 1]


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


def machine() -> dict[str, str | int]:
    return {"nproc": os.cpu_count() or 0,
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "platform": f"{platform.system()} {platform.machine()}"}


# ---- the data set ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    tickets: int = 1_000_000
    days: int = 300
    seed: int = 13

    def as_json(self) -> str:
        return json.dumps({"tickets": self.tickets, "days": self.days, "seed": self.seed, "now": NOW.isoformat()})


def roster() -> list[tuple]:
    """(id, name, trade) of every technician: a few per trade."""
    out = []
    for trade, _, n in TRADES:
        for _ in range(n):
            pid = len(out) + 1
            out.append((pid, f"{SURNAMES[(pid * 7) % len(SURNAMES)]}师傅{pid}", trade))
    return out


def _lognormal(rng: random.Random, median_s: float, sigma: float) -> timedelta:
    return timedelta(seconds=max(30.0, median_s * math.exp(rng.gauss(0, sigma))))


class World:
    """Rows of the plan, day by day (each day its own random stream: any day can be made alone)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.techs = roster()
        self.by_trade = {t: [p for p in self.techs if p[2] == t] for t, _, _ in TRADES}
        self.trades = [t for t, _, _ in TRADES]
        self.weights = [w for _, w, _ in TRADES]
        self.recent = ([s for s, _ in RECENT], [w for _, w in RECENT])
        self.old = ([s for s, _ in OLD], [w for _, w in OLD])
        self.numbers: deque[str] = deque(maxlen=20_000)     # earlier tickets a warranty repair can point at

    def count(self, d: int) -> int:
        base, extra = divmod(self.plan.tickets, self.plan.days)
        return base + (1 if d < extra else 0)

    def day_start(self, d: int) -> datetime:
        last = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
        return last - timedelta(days=self.plan.days - 1 - d)

    def day(self, d: int, first_id: int) -> tuple[list[tuple], list[tuple]]:
        rng = random.Random(f"{self.plan.seed}:{d}")
        start = self.day_start(d)
        span = min(17 * 3600, int((NOW - start).total_seconds()) - 6 * 3600 - 60)
        moments = sorted(start + timedelta(seconds=6 * 3600 + rng.randrange(span)) for _ in range(self.count(d)))
        tickets, events = [], []
        with_events = NOW - start <= timedelta(days=EVENT_DAYS)
        for k, created in enumerate(moments):
            row, evs = self.ticket(rng, first_id + k, f"BX{start:%Y%m%d}-{k + 1:04d}", created, with_events)
            tickets.append(row)
            events += evs
        return tickets, events

    def ticket(self, rng: random.Random, tid: int, number: str, created: datetime, with_events: bool
               ) -> tuple[tuple, list[tuple]]:
        recent = NOW - created <= timedelta(days=BACKLOG_DAYS)
        status = rng.choices(*(self.recent if recent else self.old))[0]
        stage = STAGE[status]
        trade = rng.choices(self.trades, weights=self.weights)[0]
        paid_status = status in ("quoted", "quote_accepted", "rejected")
        public = not paid_status and rng.random() < 0.35
        category = "emergency" if rng.random() < 0.08 else "planned" if rng.random() < 0.04 else "daily"
        b, u, room = 1 + rng.randrange(60), 1 + rng.randrange(4), 101 + rng.randrange(3000)
        if public:
            location, key = f"{b}栋{rng.choice(PUBLIC_PLACES)}", f"{b}-p{rng.randrange(5)}"
        else:
            location, key = f"{b}栋{u}单元{room}{rng.choice(UNIT_ROOMS)}", f"{b}-{u}-{room}"
        channel = rng.choice(CHANNELS)
        user = f"u{rng.randrange(200_000):07d}"
        tech = rng.choice(self.by_trade[trade])
        c = dict(id=tid, number=number, property="default", status=status, area="public" if public else "unit",
                 location=location, location_key=key, building=f"{b}栋",
                 reporter_name=f"{rng.choice(SURNAMES)}{'女士' if rng.random() < 0.5 else '先生'}",
                 phone=f"13{rng.randrange(10)}{rng.randrange(10 ** 8):08d}", description=rng.choice(FAULTS[trade]),
                 category=category, trade=trade, channel=channel, reporter_channel=channel, reporter_chat=user,
                 reporter_user=user, visit_text="", assignee_id=None, created_at=created, dispatched_at=created,
                 accepted_at=None, arrived_at=None, completed_at=None, closed_at=None, quote=None, fee=None,
                 rating=None, version=1 + stage, awaiting="", quote_items="[]", quote_status="", waiver="{}",
                 materials="[]", work_minutes=None, hold_reason="", held_from="", signoff="", verified_at=None,
                 survey="{}", warranty_of=None)
        latest = NOW - timedelta(minutes=1)
        t = created

        def after(delta: timedelta) -> datetime:
            nonlocal t
            t = min(t + delta, latest) if recent else t + delta
            return t

        fast = category == "emergency"
        if stage >= 1 or (status == "cancelled" and rng.random() < 0.3):
            c["assignee_id"] = tech[0]
            c["accepted_at"] = after(_lognormal(rng, 240 if fast else 480, 0.9))
        if stage >= 2:
            c["arrived_at"] = after(_lognormal(rng, 600 if fast else 900, 0.7))
        paid = paid_status or (not public and stage >= 3 and rng.random() < 0.3)
        if paid:
            price, name = rng.choice(PRICES)
            c.update(quote=Decimal(price), quote_items=json.dumps([{"name": name, "amount": str(price)}],
                                                                  ensure_ascii=False))
            if status == "quoted":
                c.update(quote_status="pending", awaiting="quote", fee=Decimal(price))
            elif status == "rejected":
                c.update(quote_status="declined", fee=Decimal(price))
            elif rng.random() < 0.08:      # 签免: approved, nothing to pay (BR-15/16)
                c.update(quote_status="waived", fee=Decimal(0), waiver=json.dumps({
                    "status": "approved", "amount": str(price), "payer": rng.choice(("owner", "property")),
                    "reason": "公共管道老化", "approver": "director" if price < 500 else "leadership",
                    "requested_by": tech[1], "decided_by": "李总监"}, ensure_ascii=False))
            else:
                c.update(quote_status="agreed", fee=Decimal(price))
        if status == "on_hold":
            c.update(hold_reason=rng.choice(HOLD_REASONS), held_from="on_site")
        if stage >= 3:
            done = after(_lognormal(rng, 3000 if fast else (21600 if category == "planned" else 5400), 1.0))
            c.update(completed_at=done, work_minutes=rng.randrange(10, 120),
                     materials=json.dumps([{"name": "生料带", "qty": 1}], ensure_ascii=False)
                     if rng.random() < 0.4 else "[]")
            if status == "rework":
                c["completed_at"] = None if rng.random() < 0.5 else done
        if stage >= 4:
            c["verified_at"] = after(_lognormal(rng, 4 * 3600, 0.8))
            c["signoff"] = "verified" if public else ("fixed" if rng.random() < 0.8 else "auto")
        if status == "closed":
            c["closed_at"] = after(timedelta(days=1))
            if rng.random() < 0.65:
                score = rng.choices((5, 4, 3, 2, 1), weights=(60, 25, 10, 3, 2))[0]
                survey = {"status": "answered", "overall": score}
                if rng.random() < 0.5:
                    survey.update(quality=score, service=max(1, score - rng.randrange(2)), communication=score)
                c.update(rating=score, survey=json.dumps(survey))
            else:
                c["survey"] = json.dumps({"status": "lapsed"})
        elif status == "verified":
            c["survey"] = json.dumps({"status": "asked"})
        elif status == "cancelled":
            c["closed_at"] = after(_lognormal(rng, 3600, 1.0))
        if not public and stage >= 1 and not paid and self.numbers and rng.random() < 0.02:
            c["warranty_of"] = self.numbers[rng.randrange(len(self.numbers))]     # BR-24
        self.numbers.append(number)

        events: list[tuple] = []
        if with_events:
            actor = f"{channel}:{user}"
            events.append((tid, created, actor, channel, "created", "", "submitted", "{}"))
            events.append((tid, created, "system", "system", "dispatched", "submitted", "dispatched", "{}"))
            path = (("accepted_at", "accepted", "dispatched", "accepted"), ("arrived_at", "arrived", "accepted", "on_site"),
                    ("completed_at", "completed", "on_site", "completed"), ("verified_at", "verified", "completed", "verified"),
                    ("closed_at", "closed", "verified", "closed"))
            for col, action, frm, to in path:
                if c[col] is not None and not (status == "cancelled" and col == "closed_at"):
                    events.append((tid, c[col], f"wecom:tech-{tech[0]}", "wecom", action, frm, to, "{}"))
            if status not in ("closed", "verified", "completed") and STAGE[status] >= 2 and status != "on_site":
                events.append((tid, t, f"wecom:tech-{tech[0]}", "wecom", status, "on_site", status, "{}"))
            if status == "cancelled":
                events.append((tid, c["closed_at"] or t, "wecom:desk", "wecom", "cancelled", "dispatched",
                               "cancelled", json.dumps({"reason": "住户已自行修好"}, ensure_ascii=False)))
        return tuple(c[k] for k in TICKET_COLS), events


async def _admin(sql: str) -> None:
    import asyncpg
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _database_exists(name: str) -> bool:
    import asyncpg
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def seeded_plan(db: str) -> str | None:
    import asyncpg
    if not await _database_exists(db):
        return None
    conn = await asyncpg.connect(PG_DSN_TEMPLATE.format(db=db), timeout=5)
    try:
        if not await conn.fetchval("SELECT to_regclass('kv') IS NOT NULL"):
            return None
        return await conn.fetchval("SELECT value FROM kv WHERE key = $1", SEED_KEY)
    finally:
        await conn.close()


async def seed(db: str, plan: Plan, log) -> float:
    """Create `db`, migrate it, COPY the plan's rows in; returns the seconds it took."""
    import asyncpg
    from store.db import migrate

    started = time.perf_counter()
    await _admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{db}"')
    await migrate(PG_URL_TEMPLATE.format(db=db))
    conn = await asyncpg.connect(PG_DSN_TEMPLATE.format(db=db), timeout=5)
    try:
        # Marked as this script's at once: a load that fails half-way is dropped by the next run.
        await conn.execute("INSERT INTO kv (key, value) VALUES ($1, 'loading')", SEED_KEY)
        # Secondary indexes are built once after the load (far cheaper than kept up row by row).
        indexes = await conn.fetch(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname "
            "LEFT JOIN pg_constraint k ON k.conindid = c.oid "
            "WHERE i.schemaname = 'public' AND i.tablename IN ('tickets', 'ticket_events') AND k.oid IS NULL")
        for ix in indexes:
            await conn.execute(f'DROP INDEX "{ix["indexname"]}"')
        await conn.execute("SET session_replication_role = replica")   # no foreign-key trigger per row
        world = World(plan)
        await conn.copy_records_to_table("persons", columns=PERSON_COLS, records=[
            (pid, "default", name, "technician", f"139{pid:08d}", json.dumps([trade]), NOW) for pid, name, trade
            in world.techs])
        next_id, events_n = 1, 0
        batch_t: list[tuple] = []
        batch_e: list[tuple] = []
        for d in range(plan.days):
            tickets, events = world.day(d, next_id)
            next_id += len(tickets)
            batch_t += tickets
            batch_e += events
            if len(batch_t) >= 50_000 or d == plan.days - 1:
                await conn.copy_records_to_table("tickets", columns=TICKET_COLS, records=batch_t)
                if batch_e:
                    await conn.copy_records_to_table("ticket_events", columns=EVENT_COLS, records=batch_e)
                events_n += len(batch_e)
                batch_t, batch_e = [], []
                log(f"  seeded {next_id - 1:,} tickets, {events_n:,} events "
                    f"({time.perf_counter() - started:.0f} s)")
        await conn.execute("SET session_replication_role = origin")
        log("  building indexes ...")
        for ix in indexes:
            await conn.execute(ix["indexdef"])
        for table in ("persons", "tickets", "ticket_events"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT coalesce(max(id), 1) FROM {table}))")
        await conn.execute("UPDATE kv SET value = $2 WHERE key = $1", SEED_KEY, plan.as_json())
        log("  VACUUM ANALYZE ...")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


# ---- the measurements -----------------------------------------------------------------------------------

UNFILTERED = "newest, no filter"


def list_filters(now: datetime, month_start: datetime, month_end: datetime):
    """What the desk filters by (the console's ticket list), as (name, TicketFilter, page)."""
    from dispatch.tickets import TicketFilter

    day = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    return [
        (UNFILTERED, TicketFilter(), 1),
        ("dispatch queue (dispatched)", TicketFilter(status="dispatched"), 1),
        ("plumbing, last 7 days", TicketFilter(trade="plumbing", since=now - timedelta(days=7)), 1),
        ("on hold, units", TicketFilter(status="on_hold", area="unit"), 1),
        ("yesterday", TicketFilter(since=day, until=day + timedelta(days=1)), 1),
        ("building 3, plumbing", TicketFilter(building="3栋", trade="plumbing"), 1),
        ("closed in the month, page 3", TicketFilter(status="closed", since=month_start, until=month_end), 3),
        ("public area, last 30 days", TicketFilter(area="public", since=now - timedelta(days=30)), 1),
    ]


class PeakRss:
    """The process's resident memory: now, and its peak since `reset` (Linux VmHWM, reset by clear_refs 5;
    where that cannot be reset, a thread samples VmRSS every 20 ms)."""

    def __init__(self) -> None:
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.hwm_reset = False

    @staticmethod
    def _status(field_: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_ + ":"):
                return int(line.split()[1]) * 1024
        raise BenchError(f"/proc/self/status has no {field_}")

    def rss(self) -> int:
        return self._status("VmRSS")

    def reset(self) -> None:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.hwm_reset = True
        except OSError:
            self.hwm_reset = False
        self._stop.clear()
        self.samples = [self.rss()]

        def sample() -> None:
            while not self._stop.wait(0.02):
                self.samples.append(self.rss())

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def peak(self) -> int:
        self._stop.set()
        if self._thread:
            self._thread.join()
        sampled = max(self.samples)
        return max(sampled, self._status("VmHWM")) if self.hwm_reset else sampled


@dataclass
class Results:
    database: str
    tickets: int
    seed_s: float | None
    proposed_indexes: bool = False
    indexes_as_found: bool = False
    list_calls: int = 0
    list_p50_ms: float = 0.0
    list_p95_ms: float = 0.0
    list_max_ms: float = 0.0
    list_per_filter: dict[str, dict[str, float]] = field(default_factory=dict)
    unfiltered_p95_ms: float = 0.0
    report_period: str = ""
    report_issued: int = 0
    report_runs_s: list[float] = field(default_factory=list)
    other_reports_s: dict[str, float] = field(default_factory=dict)
    xlsx_rows: int = 0
    xlsx_s: float = 0.0
    xlsx_bytes: int = 0
    xlsx_rss_before_mb: float = 0.0
    xlsx_rss_peak_mb: float = 0.0
    xlsx_growth_mb: float = 0.0

    def met(self) -> dict[str, bool]:
        return {"list": self.list_p95_ms < TARGET_LIST_P95_MS,
                "report": max(self.report_runs_s) < TARGET_REPORT_S,
                "xlsx": self.xlsx_growth_mb < TARGET_XLSX_MB and self.xlsx_rows >= XLSX_ROWS}


async def set_indexes(db: str, proposed: bool) -> None:
    """Build the proposed indexes, or drop them: the run measures one schema or the other, never a mix."""
    import asyncpg
    conn = await asyncpg.connect(PG_DSN_TEMPLATE.format(db=db), timeout=5)
    try:
        for name, ddl in PROPOSED_INDEXES.items():
            there = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name)
            if proposed and not there:
                await conn.execute(ddl)
                await conn.execute("ANALYZE tickets")
            elif not proposed and there:
                await conn.execute(f'DROP INDEX "{name}"')
    finally:
        await conn.close()


async def measure(db: str, month: str, repeat: int, proposed: bool, log) -> Results:
    from bot.api.report_workbook import write_workbook
    from bot.settings import SlaSettings
    from dispatch.reports import current_period, period_of, report
    from dispatch.tickets import list_tickets
    from sqlalchemy import func, select
    from store.db import make_database, make_sessionmaker
    from store.models import Ticket
    from templates.texts import Texts

    ours = await seeded_plan(db) is not None
    if ours:                  # another bench's database keeps the indexes it has
        await set_indexes(db, proposed)
    engine = make_database(PG_URL_TEMPLATE.format(db=db), pool_size=2)
    sessions = make_sessionmaker(engine)
    sla, texts = SlaSettings(), Texts(str(TZ))
    try:
        async with sessions() as session:
            total = (await session.execute(select(func.count()).select_from(Ticket))).scalar_one()
            latest = (await session.execute(select(func.max(Ticket.created_at)))).scalar_one()
        if not total:
            raise BenchError(f"{db} has no tickets (run without --no-seed)")
        now = max(NOW, latest + timedelta(minutes=1)) if latest else NOW
        res = Results(db, total, None, proposed_indexes=proposed, indexes_as_found=not ours)
        period = period_of("monthly", month, TZ) if month else _densest_month(now)
        res.report_period = period.label

        # 1. the workbook of the month, first: the baseline is the process before anything big was loaded
        log(f"measuring the XLSX of {period.label} ...")
        gc.collect()
        rss = PeakRss()
        with tempfile.TemporaryFile() as out:
            res.xlsx_rss_before_mb = round(rss.rss() / 2 ** 20, 1)
            rss.reset()
            t0 = time.perf_counter()
            async with sessions() as session:
                body = await report(session, period, now, sla=sla, tz=TZ)
                written = await write_workbook(out, session, body, period, texts, TZ)
            res.xlsx_s = round(time.perf_counter() - t0, 2)
            peak = rss.peak()
            res.xlsx_bytes = out.tell()
        res.xlsx_rows = sum(written.values())
        res.xlsx_rss_peak_mb = round(peak / 2 ** 20, 1)
        res.xlsx_growth_mb = round(res.xlsx_rss_peak_mb - res.xlsx_rss_before_mb, 1)

        # 2. the filtered list
        log("measuring the ticket list ...")
        samples: list[float] = []
        for name, f, page in list_filters(now, period.start, period.end):
            times = []
            for k in range(repeat + 1):
                async with sessions() as session:
                    t0 = time.perf_counter()
                    rows, count = await list_tickets(session, f, page, 50)
                    elapsed = (time.perf_counter() - t0) * 1000
                if k:                        # the first call warms the plan cache and the pool
                    times.append(elapsed)
            if name == UNFILTERED:
                res.unfiltered_p95_ms = round(percentile(times, 95), 2)
            else:
                samples += times
            res.list_per_filter[name] = {"p50_ms": round(percentile(times, 50), 2),
                                         "p95_ms": round(percentile(times, 95), 2), "total": count}
        res.list_calls = len(samples)
        res.list_p50_ms = round(percentile(samples, 50), 2)
        res.list_p95_ms = round(percentile(samples, 95), 2)
        res.list_max_ms = round(max(samples), 2)

        # 3. the monthly report, three times
        log(f"measuring the monthly report of {period.label} ...")
        for _ in range(3):
            async with sessions() as session:
                t0 = time.perf_counter()
                body = await report(session, period, now, sla=sla, tz=TZ)
                res.report_runs_s.append(round(time.perf_counter() - t0, 3))
        res.report_issued = body["totals"]["issued"]
        for kind in ("weekly", "finance"):
            p = current_period(kind, now - timedelta(days=7 if kind == "weekly" else 0), TZ)
            async with sessions() as session:
                t0 = time.perf_counter()
                await report(session, p, now, sla=sla, tz=TZ)
                res.other_reports_s[f"{kind} {p.label}"] = round(time.perf_counter() - t0, 3)
        return res
    finally:
        await engine.dispose()


def _densest_month(now: datetime):
    """The last whole month before `now` (the data set spreads tickets evenly: ~100,000 in a month)."""
    from dispatch.reports import period_of
    first = now.astimezone(TZ).replace(day=1)
    prev = first - timedelta(days=1)
    return period_of("monthly", f"{prev.year:04d}-{prev.month:02d}", TZ)


def render(res: Results, m: dict) -> str:
    met = res.met()
    mark = lambda ok: "met" if ok else "MISSED"   # noqa: E731
    out = [f"machine: nproc={m['nproc']}, {m['python']}, {m['platform']}",
           f"database: {res.database}, {res.tickets:,} tickets"
           + (f" (seeded in {res.seed_s:.0f} s)" if res.seed_s else ""),
           "indexes: " + ("as found (not this script's database)" if res.indexes_as_found else
                          "the migrations' + proposed " + ", ".join(PROPOSED_INDEXES) if res.proposed_indexes
                          else "as the migrations make them (--proposed-indexes adds " + ", ".join(PROPOSED_INDEXES) + ")"),
           ""]
    rows = [["ticket list (list_tickets, 50 a page)", "total", "p50", "p95"]]
    for name, s in res.list_per_filter.items():
        rows.append([name, f"{s['total']:,}", f"{s['p50_ms']:.1f} ms", f"{s['p95_ms']:.1f} ms"])
    out.append(table(rows))
    out.append(f"the {res.list_calls} filtered calls: p50 {res.list_p50_ms:.1f} ms, p95 {res.list_p95_ms:.1f} ms, "
               f"max {res.list_max_ms:.1f} ms  -> target p95 < {TARGET_LIST_P95_MS:g} ms: {mark(met['list'])}")
    out.append(f"(unfiltered, p95 {res.unfiltered_p95_ms:.1f} ms: counting every ticket; no target)")
    out.append("")
    out.append(f"monthly report {res.report_period} ({res.report_issued:,} tickets): "
               + ", ".join(f"{s:.3f} s" for s in res.report_runs_s)
               + f"  -> target < {TARGET_REPORT_S:g} s: {mark(met['report'])}")
    for name, s in res.other_reports_s.items():
        out.append(f"  {name}: {s:.3f} s")
    out.append("")
    out.append(f"XLSX {res.report_period}: {res.xlsx_rows:,} rows, {res.xlsx_bytes / 2 ** 20:.1f} MB file, "
               f"{res.xlsx_s:.1f} s; RSS {res.xlsx_rss_before_mb:.0f} -> peak {res.xlsx_rss_peak_mb:.0f} MB, "
               f"growth {res.xlsx_growth_mb:.0f} MB  -> target < {TARGET_XLSX_MB:g} MB"
               f" for >= {XLSX_ROWS:,} rows: {mark(met['xlsx'])}")
    return "\n".join(out)


def start_watchdog(seconds: float) -> threading.Timer:
    def fire() -> None:
        print(f"FAILED: still running after {seconds:g} s; the watchdog ends the process", file=sys.stderr, flush=True)
        os._exit(2)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


async def run(args) -> tuple[Results, dict]:
    log = lambda text: print(text, file=sys.stderr, flush=True)   # noqa: E731
    plan = Plan(args.tickets, args.days, args.seed)
    seed_s = None
    if not args.no_seed:
        have = await seeded_plan(args.database)
        if args.reseed or have != plan.as_json():
            if have is None and args.database != DEFAULT_DB and await _database_exists(args.database):
                raise BenchError(f"{args.database} exists and was not seeded by this script: not dropping it "
                                 f"(use --no-seed to measure on it as it is)")
            log(f"seeding {args.database}: {plan.tickets:,} tickets over {plan.days} days ...")
            seed_s = await seed(args.database, plan, log)
    res = await measure(args.database, args.month, args.repeat, args.proposed_indexes, log)
    res.seed_s = seed_s
    return res, machine()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", default=DEFAULT_DB, help=f"PostgreSQL database (default {DEFAULT_DB})")
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=300, help="days the tickets spread over, ending 2026-11-29")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--reseed", action="store_true", help="seed again even if the database holds this plan")
    ap.add_argument("--no-seed", action="store_true", help="measure the database as it is")
    ap.add_argument("--proposed-indexes", action="store_true",
                    help="build the indexes notes/reports.md proposes before measuring (else drop them)")
    ap.add_argument("--month", default="", help="the report's month, e.g. 2026-10 (default: the last whole one)")
    ap.add_argument("--repeat", type=int, default=25, help="calls per list filter (after one warm-up)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds before the watchdog ends the run")
    ap.add_argument("--json", action="store_true", help="also print the results as one JSON object")
    args = ap.parse_args(argv)
    if args.tickets < 1 or args.days < 1 or args.repeat < 1 or args.days * 9999 < args.tickets:
        ap.error("--tickets, --days and --repeat must be positive, and at most 9,999 tickets a day")
    watchdog = start_watchdog(args.timeout + WATCHDOG_GRACE)
    try:
        res, m = asyncio.run(run(args))
    except BenchError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        watchdog.cancel()
    print(render(res, m))
    if args.json:
        print(json.dumps({"machine": m, "targets": {"list_p95_ms": TARGET_LIST_P95_MS, "report_s": TARGET_REPORT_S,
                                                    "xlsx_growth_mb": TARGET_XLSX_MB, "xlsx_rows": XLSX_ROWS},
                          "results": asdict(res), "met": res.met()}, ensure_ascii=False))
    return 0 if all(res.met().values()) else 1


if __name__ == "__main__":
    sys.exit(main())
