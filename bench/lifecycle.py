"""Lifecycle benchmark: every staff action, the resident's answers and 「我的报修」 on 1,000,000 tickets in PostgreSQL.

Each sample is one press as the service runs it: open a session, call the domain function
(`dispatch.actions.act`, `dispatch.resident.answer` / `record_scores`, `dispatch.tickets.tickets_of`),
commit. One at a time (a press's own latency), on tickets in the state the action starts from, each
ticket used once; a warm-up of every action first.

    python bench/lifecycle.py                   # seed 1,000,000 tickets (a few minutes), then measure
    python bench/lifecycle.py --reuse           # the database seeded before: only its backlog is written again
    python bench/lifecycle.py --reuse -n 200 --only accept,my_tickets --json
    python bench/lifecycle.py --reuse --trace quote    # one press of an action: every statement and its time
    sudo python bench/lifecycle.py --reuse --nice -10  # on a machine shared with other work

The database `repairbot_bench_lifecycle` on 127.0.0.1:5432 (created if missing, migrated with the
project's Alembic migrations) is kept after the run, for --reuse. Without --reuse it is dropped and
seeded again (bench/lifecycle_seed.py says what is in it; COPY, indexes built after). With --reuse the
last 30 days' tickets (where every measured ticket comes from) are deleted and COPYed again, so each
run starts from the same state; the older tickets stay as they are.

Only 127.0.0.1 is contacted.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Awaitable, Callable

ROOT = Path(__file__).resolve().parent.parent
for p in (str(ROOT), str(Path(__file__).resolve().parent)):
    if p not in sys.path:  # runnable as `python bench/lifecycle.py` without installing the project
        sys.path.insert(0, p)

import lifecycle_seed as seed  # noqa: E402  (bench/lifecycle_seed.py)

DB_NAME = "repairbot_bench_lifecycle"
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DSN = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
PG_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB_NAME}"
CONNECT_TIMEOUT = 5.0

TARGET_P99_MS = 10.0
TARGET_TEXT = ("with 1,000,000 tickets in PostgreSQL (seeded with COPY), the p99 of every lifecycle action "
               "and of 「我的报修」 stays under 10 ms")
MIN_SAMPLES = 50          # fewer tickets in a state than this: the row is reported as not measured


class BenchError(RuntimeError):
    """The benchmark could not run."""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- statistics (as bench/intake.py) ------------------------------------------------------------------

def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile (the smallest sample with at least p% of samples at or below it)."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def summarize(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"count": len(ms), "p50_ms": round(percentile(ms, 50), 3), "p90_ms": round(percentile(ms, 90), 3),
            "p99_ms": round(percentile(ms, 99), 3), "max_ms": round(max(ms), 3) if ms else float("nan")}


# ---- what is measured ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Spec:
    """One measured action: where its tickets come from, who presses, with what body."""

    name: str                       # the row's name (the action, or my_tickets / survey)
    side: str                       # staff (act) | resident (answer / record_scores) | query (tickets_of)
    statuses: tuple[str, ...] = ()  # the tickets it takes, by status ...
    where: str = ""                 # ... and this SQL condition on `t`
    actor: str = "assignee"         # assignee | technician (of the trade) | supervisor | desk | housekeeper
                                    # | director | reporter
    body: Callable[[dict, datetime], dict | None] = lambda t, now: None
    after: str = ""                 # takes the tickets the named action just handled (waive → waive_approve)
    feeds: int = 1                  # actions that take this one's tickets (`after`): it presses this many times more
    about: str = ""                 # the tickets, as the table shows them (default: the statuses)

    @property
    def source(self) -> str:
        if self.about:
            return self.about
        if self.after:
            return f"after {self.after}"
        if self.side == "query":
            return "a resident with history"
        return "/".join(self.statuses) + (f" ({self.where})" if self.where else "")


def _hold(t: dict, now: datetime) -> dict:
    return {"reason": "等配件", "until": (now + timedelta(days=2)).astimezone(seed.TZ).date().isoformat()}


def _other_technician(t: dict, now: datetime) -> dict:
    return {"to": t["_other"]}


def _alert(t: dict, now: datetime) -> dict:
    return {"alert": t["_alert"]}


# An overdue ticket: one of its escalation steps has fired (the seed computes them with the project's clocks).
OVERDUE = ("EXISTS (SELECT 1 FROM timers x WHERE x.ticket_id = t.id AND x.kind = 'escalation' "
           "AND x.status = 'done')")


SPECS: tuple[Spec, ...] = (
    Spec("accept", "staff", ("dispatched",), actor="technician"),
    Spec("reschedule", "staff", ("accepted",), body=lambda t, now: {"visit_text": "明天下午3点"}, feeds=2),
    Spec("visit_agree", "resident", after="reschedule", actor="reporter"),
    Spec("visit_decline", "resident", after="reschedule", actor="reporter"),
    Spec("arrive", "staff", ("accepted",)),
    Spec("quote", "staff", ("on_site",), "t.area = 'unit'", about="on_site, unit",
         body=lambda t, now: {"items": [{"key": "visit"}, {"name": "更换角阀", "amount": "80"}], "note": "含配件"}),
    Spec("quote_decline", "resident", after="quote", actor="reporter"),
    Spec("quote_agree", "resident", ("quoted",), "t.awaiting = 'quote'", actor="reporter", about="quoted"),
    Spec("hold", "staff", ("on_site",), body=_hold),
    Spec("resume", "staff", ("on_hold",)),
    Spec("complete", "staff", ("on_site", "quote_accepted"),
         body=lambda t, now: {"materials": [{"name": "角阀", "qty": 1}], "minutes": 40, "note": "已更换角阀"}),
    Spec("signoff_fixed", "resident", ("completed",), "t.area = 'unit' AND t.awaiting = 'signoff'", actor="reporter",
         about="completed, unit"),
    Spec("signoff_not_fixed", "resident", ("completed",), "t.area = 'unit' AND t.awaiting = 'signoff'",
         actor="reporter", about="completed, unit"),
    Spec("verify", "staff", ("completed",), "t.area = 'public'", actor="housekeeper", about="completed, public",
         body=lambda t, now: {"passed": True}),
    Spec("survey", "resident", ("verified",), "t.awaiting = 'survey'", actor="reporter", about="verified"),
    Spec("waive", "staff", ("quoted",), "t.quote < 500 AND t.awaiting = 'quote'", about="quoted, < 500 元",
         body=lambda t, now: {"payer": "property", "reason": "独居老人，物业承担"}, feeds=2),
    Spec("waive_approve", "staff", after="waive", actor="director", body=lambda t, now: {"note": "同意"}),
    Spec("waive_reject", "staff", after="waive", actor="director", body=lambda t, now: {"note": "请按价收费"}),
    Spec("transfer", "staff", ("accepted",), body=_other_technician),
    Spec("reassign", "staff", ("dispatched",), actor="supervisor", body=_other_technician),
    Spec("decline", "staff", ("accepted",), body=lambda t, now: {"reason": "不是本专业的活"}),
    Spec("ack", "staff", ("dispatched", "accepted", "on_site"), OVERDUE, actor="supervisor", about="overdue",
         body=_alert),
    Spec("cancel", "staff", ("accepted",), actor="desk", body=lambda t, now: {"reason": "住户已自行修好"}),
    Spec("my_tickets", "query", actor="reporter"),
)
WHO = {"assignee": "assignee", "technician": "technician of the trade", "supervisor": "supervisor of the trade",
       "desk": "desk", "housekeeper": "housekeeper", "director": "director", "reporter": "resident"}


@dataclass
class Row:
    name: str
    side: str
    who: str
    source: str
    samples: int = 0
    latency: dict[str, float] = field(default_factory=dict)
    statements: float = 0.0                 # median SQL statements per sample
    cpu_ms: float = 0.0                     # median CPU time of this process per sample (Python's share)
    outcomes: dict[str, int] = field(default_factory=dict)
    missing: str = ""                       # why it was not measured
    target_met: bool | None = None


# ---- the domain functions, as far as they exist ------------------------------------------------------

def policy():
    from dispatch.policy import Material, Policy, Price

    return Policy(prices=(seed_price("visit", "上门费", "30"), seed_price("valve", "更换角阀", "80", "plumbing")),
                  materials=(Material("valve", "角阀"), Material("tape", "生料带", "卷")),
                  channels=frozenset({"wecom", "wecom_kf", "wechat_mp"}))


def seed_price(key: str, name: str, amount: str, trade: str = ""):
    from dispatch.policy import Price

    return Price(key, name, Decimal(amount), trade)


def staff_caller(pol) -> Callable | str:
    """A call of `dispatch.actions.act`, or why there is none yet."""
    try:
        from dispatch.actions import act
    except ImportError:
        return "dispatch.actions.act is not on this branch yet"

    async def call(session, t: dict, action: str, channel: str, user: str, now: datetime, body):
        return await act(session, t["number"], action, channel, user, now, body, policy=pol)
    return call


def resident_caller(pol, name: str) -> Callable | str:
    """The resident's answer (同意 / 已修好) or survey scores, or why there is none yet."""
    try:
        from dispatch import resident
    except ImportError:
        return "dispatch.resident is not on this branch yet"
    if name == "survey":
        if not hasattr(resident, "record_scores"):
            return "dispatch.resident.record_scores is not on this branch yet"

        async def scores(session, t: dict, action: str, channel: str, user: str, now: datetime, body):
            # As the chat does: the ticket that asks this resident for a score, then the three scores.
            ticket = await resident.awaiting_ticket(session, channel, user, ("survey",), t["number"])
            return await resident.record_scores(session, ticket, {"quality": 5, "service": 4, "communication": 5},
                                                now, pol, actor=(channel, user))
        return scores
    if not hasattr(resident, "answer"):
        return "dispatch.resident.answer is not on this branch yet"

    async def answer(session, t: dict, action: str, channel: str, user: str, now: datetime, body):
        # As conversations/answers.py does: the ticket that asks, then the answer to it (the resident
        # typed the number with the word, so it is this ticket and no other of theirs).
        ticket = await resident.awaiting_ticket(session, channel, user, (resident.ASKS[action],), t["number"])
        return await resident.answer(session, channel, user, action, now, policy=pol, number=ticket.number,
                                     ticket=ticket)
    return answer


async def my_tickets(session, t: dict, action: str, channel: str, user: str, now: datetime, body):
    from dispatch.tickets import tickets_of

    return await tickets_of(session, channel, user)


def outcome_of(result: Any) -> str:
    if isinstance(result, list):
        return "ok" if result else "empty"
    return getattr(result, "outcome", None) or ("ok" if result else "none")


# ---- picking tickets and actors -----------------------------------------------------------------------

class Cast:
    """The staff as the database has them, and who presses for which ticket."""

    def __init__(self, rows: list[dict]) -> None:
        self.by_id = {r["id"]: r for r in rows}
        self.by_role: dict[str, list[dict]] = {}
        for r in rows:
            self.by_role.setdefault(r["role"], []).append(r)

    def of_trade(self, role: str, trade: str) -> list[dict]:
        return [r for r in self.by_role.get(role, []) if not r["trades"] or trade in r["trades"]]

    def actor(self, spec: Spec, t: dict, rng: random.Random) -> tuple[str, str]:
        if spec.actor == "reporter":
            return t["reporter_channel"], t["reporter_user"]
        if spec.actor == "assignee":
            person = self.by_id[t["assignee_id"]]
        elif spec.actor in ("technician", "supervisor"):
            person = rng.choice(self.of_trade(spec.actor, t["trade"]))
        else:
            person = self.by_role[spec.actor][0]
        return "wecom", person["user"]

    def other_technician(self, t: dict, rng: random.Random) -> str:
        others = [r for r in self.of_trade("technician", t["trade"]) if r["id"] != t["assignee_id"]]
        return rng.choice(others)["user"]


async def load_cast(conn) -> Cast:
    rows = await conn.fetch(
        """SELECT p.id, p.name, p.role, p.trades::text AS trades, i.external_id AS user
           FROM persons p JOIN person_identities i ON i.person_id = p.id AND i.platform = 'wecom'
           WHERE p.role <> 'resident' ORDER BY p.id""")
    return Cast([{**dict(r), "trades": json.loads(r["trades"])} for r in rows])


TICKET_FIELDS = "t.id, t.number, t.trade, t.area, t.status, t.assignee_id, t.reporter_channel, t.reporter_user"


async def pick(conn, spec: Spec, n: int, used: set[int]) -> list[dict]:
    where = "t.status = ANY($1::text[])" + (f" AND {spec.where}" if spec.where else "")
    rows = await conn.fetch(f"SELECT {TICKET_FIELDS} FROM tickets t WHERE {where} ORDER BY random() LIMIT $2",
                            list(spec.statuses), n + len(used))
    out = [dict(r) for r in rows if r["id"] not in used][:n]
    used.update(t["id"] for t in out)
    return out


async def alerted(conn, tickets: list[dict], cast: Cast) -> None:
    """Each ticket's first fired step as the alert its trade's supervisors got (dispatch/escalation.py records
    who it went to when it fires; the seed's steps have not fired through the service)."""
    for t in tickets:
        who = [p["id"] for p in cast.of_trade("supervisor", t["trade"])]
        t["_alert"] = await conn.fetchval(
            """UPDATE timers SET details = (details::jsonb || jsonb_build_object('alerted', $2::jsonb))::json
               WHERE id = (SELECT id FROM timers WHERE ticket_id = $1 AND kind = 'escalation' AND status = 'done'
                           ORDER BY id LIMIT 1) RETURNING id""", t["id"], json.dumps(who))


async def pick_residents(conn, n: int, frequent: int) -> list[dict]:
    """Residents who report often (5 % of them file 30 % of tickets): the longest lists to sort."""
    rows = await conn.fetch(
        """SELECT i.platform AS reporter_channel, i.external_id AS reporter_user FROM person_identities i
           JOIN persons p ON p.id = i.person_id WHERE p.role = 'resident' AND p.id <= $1
           ORDER BY random() LIMIT $2""", frequent, n)
    return [dict(r) for r in rows]


# ---- measuring ----------------------------------------------------------------------------------------

class StatementCounter:
    """Counts (and with `trace`, times) the SQL statements the sessions send."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.count, self.trace, self.log = 0, False, []
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.count += 1
        if self.trace:
            conn.info["t0"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.trace:
            self.log.append(((time.perf_counter() - conn.info.pop("t0")) * 1000, statement, parameters))


PROFILER = None  # --profile: a cProfile.Profile switched on only inside measured presses


async def one(sessions, call, t: dict, action: str, channel: str, user: str, body_of
              ) -> tuple[float, str, float]:
    """One press: (seconds, outcome, this process's CPU seconds in it)."""
    now = datetime.now(timezone.utc)
    body = body_of(t, now)
    c0, t0 = time.process_time(), time.perf_counter()
    if PROFILER is not None:
        PROFILER.enable()
    async with sessions() as session, session.begin():
        result = await call(session, t, action, channel, user, now, body)
    if PROFILER is not None:
        PROFILER.disable()
    return time.perf_counter() - t0, outcome_of(result), time.process_time() - c0


async def measure(args, plan: seed.Plan) -> list[Row]:
    import asyncpg

    from store.db import make_database, make_sessionmaker

    pol = policy()
    conn = await asyncpg.connect(PG_DSN, timeout=CONNECT_TIMEOUT)
    db = make_database(PG_URL)
    counter = StatementCounter(db)
    sessions = make_sessionmaker(db)
    rng = random.Random(args.seed)
    rows: list[Row] = []
    wanted = [s for s in SPECS if not args.only or s.name in args.only]
    try:
        cast = await load_cast(conn)
        used: set[int] = set()
        handled: dict[str, list[dict]] = {}
        plans: list[tuple[Spec, Row, Callable | None, list[dict]]] = []
        for spec in wanted:
            row = Row(spec.name, spec.side, WHO[spec.actor], spec.source)
            rows.append(row)
            call = (staff_caller(pol) if spec.side == "staff" else my_tickets if spec.side == "query"
                    else resident_caller(pol, spec.name))
            if isinstance(call, str):
                row.missing = call
                continue
            total = (args.samples + args.warmup) * spec.feeds
            if spec.after:
                tickets: list[dict] = []   # filled when the action before it has run
            elif spec.side == "query":
                tickets = await pick_residents(conn, total, seed.resident(0, len(cast.by_id)).person_id
                                               + int(plan.residents * seed.FREQUENT_SHARE))
            else:
                tickets = await pick(conn, spec, total, used)
            for t in tickets:
                if spec.body is _other_technician:
                    t["_other"] = cast.other_technician(t, rng)
            if spec.body is _alert:
                await alerted(conn, tickets, cast)
            plans.append((spec, row, call, tickets))

        if args.trace:
            return await trace(args.trace, plans, sessions, counter, cast, rng)

        # Warm-up: every action once over, so pools, statement caches and templates are ready for all.
        warmed: dict[str, list[dict]] = {}
        for spec, row, call, tickets in plans:
            warm = take(warmed, spec.after, args.warmup) if spec.after else tickets[:args.warmup * spec.feeds]
            warmed[spec.name] = []
            for t in warm:
                channel, user = cast.actor(spec, t, rng)
                if (await one(sessions, call, t, spec.name, channel, user, spec.body))[1] == "ok":
                    warmed[spec.name].append(t)
        gc.collect()
        gc.freeze()   # as the service does once started (bot.app)
        if args.nice is not None:
            await renice(conn, args.nice)

        for spec, row, call, tickets in plans:
            if spec.after:
                tickets = take(handled, spec.after, args.samples)
            else:
                tickets = tickets[args.warmup * spec.feeds:]
            if len(tickets) < min(MIN_SAMPLES, args.samples):
                row.missing = f"only {len(tickets)} tickets {spec.source}"
                continue
            times, counts, cpu = [], [], []
            done: list[dict] = []
            for t in tickets[:args.samples * spec.feeds]:
                channel, user = cast.actor(spec, t, rng)
                before = counter.count
                elapsed, outcome, used_cpu = await one(sessions, call, t, spec.name, channel, user, spec.body)
                counts.append(counter.count - before)
                cpu.append(used_cpu)
                row.outcomes[outcome] = row.outcomes.get(outcome, 0) + 1
                if outcome == "ok":
                    times.append(elapsed)
                    done.append(t)
            handled[spec.name] = done
            row.samples = len(times)
            row.latency = summarize(times)
            row.statements = statistics.median(counts) if counts else 0
            row.cpu_ms = round(statistics.median(cpu) * 1000, 2) if cpu else 0.0
            row.target_met = bool(times) and row.latency["p99_ms"] < TARGET_P99_MS and set(row.outcomes) == {"ok"}
            log(f"{spec.name:14} n={row.samples:4}  p50 {row.latency['p50_ms']:6.2f} ms  "
                f"p99 {row.latency['p99_ms']:6.2f} ms  {row.statements:g} statements  {row.outcomes}")
        return rows
    finally:
        await conn.close()
        await db.dispose()


def take(handled: dict[str, list[dict]], action: str, n: int) -> list[dict]:
    """Up to `n` of the tickets `action` handled, no longer offered to the next action that takes them."""
    out, handled[action] = handled.get(action, [])[:n], handled.get(action, [])[n:]
    return out


async def trace(name: str, plans, sessions, counter: StatementCounter, cast: Cast, rng) -> list[Row]:
    """One press of `name` (after one untraced press to warm up), every statement with its time."""
    ready: dict[str, list[dict]] = {}
    for spec, row, call, tickets in plans:
        if spec.after:
            tickets = take(ready, spec.after, 2)
        if len(tickets) < 2:
            raise BenchError(f"no tickets {spec.source} to trace {spec.name} on")
        ready[spec.name] = []
        for k, t in enumerate(tickets[:2 * spec.feeds]):
            channel, user = cast.actor(spec, t, rng)
            counter.trace, counter.log = spec.name == name and k == 1, []
            elapsed, outcome, _ = await one(sessions, call, t, spec.name, channel, user, spec.body)
            ready[spec.name].append(t)
        counter.trace = False
        if spec.name != name:
            continue
        what = f"on {t['number']} ({t['status']}) " if "number" in t else ""
        print(f"{name} {what}by {channel}:{user}: {outcome}, {elapsed * 1000:.2f} ms, "
              f"{len(counter.log)} statements")
        for ms, statement, params in counter.log:
            print(f"  {ms:7.3f} ms  {' '.join(statement.split())[:400]}")
            print(f"             {str(params)[:300]}")
        return []
    raise BenchError(f"--trace {name}: no such action measured")


async def renice(conn, niceness: int) -> None:
    """This process and the server processes of its connections to the benchmark's database (all of them
    are this run's) at `niceness`: a press measured as it runs when it gets the CPU, on a shared machine."""
    pids = [r["pid"] for r in await conn.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'", DB_NAME)]
    try:
        for pid in (0, *pids):
            os.setpriority(os.PRIO_PROCESS, pid, niceness)
    except PermissionError as e:
        raise BenchError(f"--nice {niceness}: {e} (a negative niceness needs root)") from e
    log(f"niceness {niceness} for this process and {len(pids)} server processes")


# ---- the database -------------------------------------------------------------------------------------

async def admin(sql: str, *args) -> Any:
    import asyncpg

    try:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=CONNECT_TIMEOUT)
    except (OSError, asyncio.TimeoutError) as e:
        raise BenchError(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {e}") from e
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def seeded_plan() -> seed.Plan | None:
    import asyncpg

    if not await admin("SELECT 1 FROM pg_database WHERE datname = $1", DB_NAME):
        return None
    conn = await asyncpg.connect(PG_DSN, timeout=CONNECT_TIMEOUT)
    try:
        text = await conn.fetchval("SELECT value FROM kv WHERE key = $1", seed.SEED_KEY)
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await conn.close()
    return seed.Plan.from_json(text) if text else None


async def prepare(args) -> tuple[seed.Plan, dict]:
    """The seeded database, fresh or reused (its backlog written again); what it took."""
    from store.db import migrate_sync

    info: dict[str, Any] = {}
    wanted = seed.Plan(args.tickets, per_day=args.per_day, backlog_days=args.backlog_days, seed=args.seed)
    previous = await seeded_plan() if args.reuse else None
    if previous is not None and previous.same_as(wanted):
        await asyncio.to_thread(migrate_sync, PG_URL)   # a migration added since the seed (an index) is run
        t0 = time.perf_counter()
        if args.no_rearm:
            log(f"reusing {DB_NAME} as it is (seeded {previous.now:%Y-%m-%d %H:%M} UTC)")
        else:
            log(f"reusing {DB_NAME} (seeded {previous.now:%Y-%m-%d %H:%M} UTC); writing its backlog again")
            info["rearm_rows"] = await seed.rearm(PG_DSN, previous, log=log)
        info.update(reused=True, prepare_s=round(time.perf_counter() - t0, 1))
        return previous, info
    if args.reuse:
        log(f"{DB_NAME} holds no seed of {args.tickets:,} tickets like this one: seeding it")
    t0 = time.perf_counter()
    await admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    await admin(f'CREATE DATABASE "{DB_NAME}"')
    await asyncio.to_thread(migrate_sync, PG_URL)
    migrated = time.perf_counter()
    counts = await seed.load(PG_DSN, wanted, range(wanted.days), log=log, fresh=True)
    info.update(reused=False, seed_s=round(time.perf_counter() - migrated, 1), rows=counts,
                migrate_s=round(migrated - t0, 1))
    log(f"seeded {counts['tickets']:,} tickets in {info['seed_s']:.0f} s")
    return wanted, info


async def database_facts() -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(PG_DSN, timeout=CONNECT_TIMEOUT)
    try:
        size = await conn.fetchval("SELECT pg_database_size(current_database())")
        counts = {table: await conn.fetchval(f"SELECT count(*) FROM {table}")
                  for table in ("tickets", "ticket_events", "persons", "card_copies", "photos", "outbox")}
        settings = {name: await conn.fetchval(f"SHOW {name}")
                    for name in ("shared_buffers", "synchronous_commit", "server_version")}
        return {"size_mb": round(size / 2**20), "rows": counts, "settings": settings}
    finally:
        await conn.close()


# ---- output -------------------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    return {"nproc": os.cpu_count() or 0, "python": f"{platform.python_implementation()} {platform.python_version()}",
            "platform": f"{platform.system()} {platform.machine()}", "loadavg": [round(x, 2) for x in os.getloadavg()]}


def table(rows: list[list[str]], left: int = 1) -> str:
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = []
    for k, r in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) if c < left else cell.rjust(w)
                               for c, (cell, w) in enumerate(zip(r, widths))).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report(rows: list[Row], m: dict, facts: dict, info: dict, args) -> str:
    out = [f"machine: nproc={m['nproc']}, {m['python']}, {m['platform']}, load average {m['load_before'][0]:.1f} "
           f"before / {m['loadavg'][0]:.1f} after measuring; PostgreSQL "
           f"{facts['settings'].get('server_version', '?')}, shared_buffers={facts['settings'].get('shared_buffers')}",
           f"database: {facts['rows'].get('tickets', 0):,} tickets, {facts['rows'].get('ticket_events', 0):,} events, "
           f"{facts['rows'].get('persons', 0):,} persons, {facts['rows'].get('card_copies', 0):,} card copies, "
           f"{facts['rows'].get('photos', 0):,} photos; {facts['size_mb']:,} MB"]
    if info.get("reused"):
        out.append(f"reused the seeded database; backlog written again in {info['prepare_s']:.1f} s")
    else:
        out.append(f"seeded with COPY in {info['seed_s']:.0f} s (indexes and VACUUM ANALYZE included; "
                   f"migrations {info['migrate_s']:.1f} s)")
    if args.nice is not None:
        out.append(f"measured at niceness {args.nice} (this process and its PostgreSQL server processes)")
    out += [f"{args.samples} presses per action after {args.warmup} warm-up, one at a time, "
            "each its own transaction (open session, act, commit)",
            f'target (issue): "{TARGET_TEXT}"', ""]
    table_rows = [["action", "who", "tickets", "n", "p50", "p90", "p99", "max", "SQL", "CPU", "p99 < 10 ms"]]
    for r in rows:
        if r.missing:
            table_rows.append([r.name, r.who, r.source, "-", "-", "-", "-", "-", "-", "-", f"not measured: {r.missing}"])
            continue
        lat = r.latency
        bad = {k: v for k, v in r.outcomes.items() if k != "ok"}
        verdict = ("met" if r.target_met else "MISSED") + (f" ({bad} not ok)" if bad else "")
        table_rows.append([r.name, r.who, r.source, str(r.samples), f"{lat['p50_ms']:.2f}", f"{lat['p90_ms']:.2f}",
                           f"{lat['p99_ms']:.2f}", f"{lat['max_ms']:.2f}", f"{r.statements:g}", f"{r.cpu_ms:.2f}",
                           verdict])
    out.append(table(table_rows, left=3))
    out.append("(milliseconds; SQL = statements per press and CPU = this process's CPU time per press, medians)")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tickets", type=int, default=1_000_000, help="tickets in the database (default 1,000,000)")
    ap.add_argument("--per-day", type=int, default=1000, help="tickets filed a day (default 1,000: 1,000 days)")
    ap.add_argument("--backlog-days", type=int, default=30,
                    help="the last days whose tickets are still open, where measured tickets come from (default 30)")
    ap.add_argument("--reuse", action="store_true",
                    help="keep the database when it holds the same seed; only its backlog is written again")
    ap.add_argument("--no-rearm", action="store_true", help="with --reuse: keep the backlog as the last run left it")
    ap.add_argument("-n", "--samples", type=int, default=500, help="measured presses per action (default 500)")
    ap.add_argument("--warmup", type=int, default=20, help="presses per action before measuring (default 20)")
    ap.add_argument("--only", type=lambda s: set(s.split(",")), help="comma-separated actions to measure")
    ap.add_argument("--trace", metavar="ACTION", help="one press of ACTION, every statement with its time")
    ap.add_argument("--nice", type=int, metavar="N",
                    help="after the warm-up, run this process and its PostgreSQL server processes at niceness N "
                         "(e.g. -10, as root): on a machine shared with other work")
    ap.add_argument("--seed", type=int, default=10, help="random seed of the data set and the picks")
    ap.add_argument("--profile", metavar="FILE",
                    help="write a cProfile of the measured presses only (pstats format) to FILE")
    ap.add_argument("--json", action="store_true", help="also print the results as one JSON object")
    args = ap.parse_args(argv)
    if args.tickets < 1000 or args.samples < 1 or args.warmup < 0 or args.per_day < 1:
        ap.error("--tickets at least 1000, -n at least 1, --warmup at least 0")
    if args.only and args.only - {s.name for s in SPECS}:
        ap.error(f"--only: unknown {sorted(args.only - {s.name for s in SPECS})}; "
                 f"known: {', '.join(s.name for s in SPECS)}")
    if args.trace:
        if args.trace not in {s.name for s in SPECS}:
            ap.error(f"--trace: unknown action {args.trace}")
        args.only = {args.trace}
    if args.only:       # an action that takes another's tickets needs that one too
        args.only |= {s.after for s in SPECS if s.name in args.only and s.after}
    try:
        plan, info = asyncio.run(prepare(args))
        load_before = [round(x, 2) for x in os.getloadavg()]
        global PROFILER
        if args.profile:
            import cProfile
            PROFILER = cProfile.Profile()
        rows = asyncio.run(measure(args, plan))
        if PROFILER is not None:
            PROFILER.dump_stats(args.profile)
        if args.trace:
            return 0
        facts = asyncio.run(database_facts())
    except BenchError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 2
    m = {**machine(), "load_before": load_before}
    print(report(rows, m, facts, info, args))
    if args.json:
        print(json.dumps({"machine": m, "database": facts, "prepare": info,
                          "target": {"text": TARGET_TEXT, "p99_ms": TARGET_P99_MS},
                          "results": [asdict(r) for r in rows]}, ensure_ascii=False, default=str))
    measured = [r for r in rows if not r.missing]
    return 0 if measured and all(r.target_met for r in measured) and len(measured) == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
