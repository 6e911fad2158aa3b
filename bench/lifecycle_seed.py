"""The lifecycle benchmark's data set: an estate's years of tickets, written with COPY (bench/lifecycle.py).

What one seed writes (all deterministic for a given --seed, day by day):
  staff        a [[staff]]-like roster: technicians per trade, two supervisors, a manager, a director,
               leadership, a desk, a control room and a housekeeper, each with a WeCom account
  residents    tickets / 5 people (200,000 for a million tickets), one platform account each
               (微信客服 60 %, Official Account 30 %, WeCom 10 %); 5 % of them report often
  tickets      --per-day a day (1,000) back from today, BX<yyyymmdd>-<nnnn> numbers; older than the
               backlog window (30 days) closed or cancelled; inside it every status of the lifecycle
  and with them: their audit events (the path each status implies), card copies (the trade's group and
  each technician of the trade), photos (report and after), watchers (BR-4), the last 7 days' sent
  outbox rows (what retention keeps), open timers (sign-off, survey, and the escalation steps of every
  ticket still open, computed by dispatch/clocks.py), follow-up picks (BR-25) and the counters (daily
  numbers, follow-up totals).

Loading: secondary indexes are dropped and rebuilt after the COPY, foreign-key triggers are off on the
loading connections (`session_replication_role = replica`), then VACUUM ANALYZE.

The backlog window is where every measured ticket comes from; `rearm` writes it again (deletes the
window's tickets with what cascades from them, and the outbox rows runs added, then COPYs the same days
again), so repeated runs on one database start from the same state.
"""
from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
PROPERTY = "default"
SEED_KEY = "bench_lifecycle_seed"      # kv row: the parameters and time of the seed
SEED_VERSION = 3                       # what the rows hold; a database seeded by another version is seeded again

# (trade, weight among reports, technicians)
TRADES = (("plumbing", 30, 6), ("electrical", 20, 5), ("doors_windows", 12, 3), ("civil", 10, 3),
          ("hvac", 8, 3), ("weak_current", 6, 2), ("elevator", 5, 2), ("fire", 3, 2), ("other", 6, 2))
TRADE_NAMES = {"plumbing": "水电-给排水", "electrical": "水电-电气", "doors_windows": "门窗", "civil": "土建",
               "hvac": "暖通空调", "weak_current": "弱电", "elevator": "电梯", "fire": "消防", "other": "其他"}
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

# Inside the backlog window: the share of each status (percent). Older tickets are closed or cancelled.
RECENT = (("submitted", 1), ("dispatched", 9), ("accepted", 13), ("on_site", 14), ("quoted", 7),
          ("quote_accepted", 6), ("on_hold", 5), ("rework", 2), ("rejected", 2), ("completed", 10),
          ("verified", 8), ("closed", 20), ("cancelled", 3))
OLD = (("closed", 95), ("cancelled", 5))
PUBLIC_SHARE = 0.35          # public-area reports (verified by the desk, not signed off by a resident)
FREQUENT_SHARE = 0.05        # residents who report often ...
FREQUENT_REPORTS = 0.30      # ... file this share of all tickets
RESIDENT_PLATFORMS = ("wecom_kf",) * 6 + ("wechat_mp",) * 3 + ("wecom",)
OUTBOX_DAYS = 7              # sent rows older than this are pruned by retention ([retention] sent)


# ---- the roster ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Staff:
    id: int
    name: str
    role: str
    trades: tuple[str, ...]
    user: str                 # WeCom userid: what a press carries
    phone: str


def roster() -> list[Staff]:
    out: list[Staff] = []

    def add(name: str, role: str, trades: tuple[str, ...], user: str) -> None:
        out.append(Staff(len(out) + 1, name, role, trades, user, f"139{len(out) + 1:08d}"))

    for trade, _, techs in TRADES:
        for k in range(techs):
            add(f"{SURNAMES[(len(out) * 7) % len(SURNAMES)]}师傅{len(out) + 1}", "technician", (trade,),
                f"tech-{trade}-{k + 1}")
    half = len(TRADES) // 2
    add("赵主管", "supervisor", tuple(t for t, _, _ in TRADES[:half]), "sup-1")
    add("钱主管", "supervisor", tuple(t for t, _, _ in TRADES[half:]), "sup-2")
    add("孙经理", "manager", (), "mgr-1")
    add("李总监", "director", (), "dir-1")
    add("周总", "leadership", (), "lead-1")
    add("吴前台", "desk", (), "desk-1")
    add("郑中控", "control", (), "ctl-1")
    add("冯管家", "housekeeper", (), "hk-1")
    return out


@dataclass(frozen=True)
class Resident:
    index: int
    person_id: int
    platform: str
    user: str
    name: str
    phone: str
    building: int
    unit: int
    room: int


def resident(index: int, staff_count: int) -> Resident:
    """Resident `index`: everything about them follows from the number (no table kept in memory)."""
    platform = RESIDENT_PLATFORMS[index % len(RESIDENT_PLATFORMS)]
    prefix = {"wecom_kf": "wmBench", "wechat_mp": "oBench", "wecom": "res-"}[platform]
    name = f"{SURNAMES[index % len(SURNAMES)]}{'女士' if index % 2 else '先生'}"
    building, rest = 1 + index % 60, index // 60
    return Resident(index, staff_count + 1 + index, platform, f"{prefix}{index:07d}", name,
                    f"13{index % 10}{index:08d}"[:11], building, 1 + rest % 4, 101 + (rest // 4) % 3000)


# ---- the plan: sizes and days -------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    tickets: int
    per_day: int = 1000
    backlog_days: int = 30
    seed: int = 10
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    version: int = SEED_VERSION

    @property
    def days(self) -> int:
        return max(1, -(-self.tickets // self.per_day))

    @property
    def residents(self) -> int:
        return max(100, self.tickets // 5)

    def count(self, d: int) -> int:
        """Tickets filed on day d (0 the oldest, days-1 today): the total spread evenly."""
        base, extra = divmod(self.tickets, self.days)
        return base + (1 if d < extra else 0)

    def first_id(self, d: int) -> int:
        base, extra = divmod(self.tickets, self.days)
        return d * base + min(d, extra) + 1

    def day_start(self, d: int) -> datetime:
        today = self.now.astimezone(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
        return today - timedelta(days=self.days - 1 - d)

    def backlog_first_day(self) -> int:
        return max(0, self.days - self.backlog_days)

    def as_json(self) -> str:
        return json.dumps({"tickets": self.tickets, "per_day": self.per_day, "backlog_days": self.backlog_days,
                           "seed": self.seed, "now": self.now.isoformat(), "version": self.version})

    @classmethod
    def from_json(cls, text: str) -> Plan:
        d = json.loads(text)
        return cls(d["tickets"], d["per_day"], d["backlog_days"], d["seed"], datetime.fromisoformat(d["now"]),
                   d.get("version", 1))

    def same_as(self, other: Plan) -> bool:
        """The same data set (its time aside)."""
        return (self.tickets, self.per_day, self.backlog_days, self.seed, self.version) == (
            other.tickets, other.per_day, other.backlog_days, other.seed, other.version)


# ---- rows ---------------------------------------------------------------------------------------------

TICKET_COLS = (
    "id", "number", "property", "status", "area", "location", "location_key", "building", "reporter_name", "phone",
    "description", "category", "trade", "channel", "reporter_channel", "reporter_chat", "reporter_user",
    "reporter_id", "visit_text", "visit_at", "assignee_id", "created_at", "dispatched_at", "accepted_at",
    "arrived_at", "completed_at", "closed_at", "quote", "fee", "rating", "version", "filing_key", "awaiting",
    "quote_items", "quote_status", "quote_note", "waiver", "materials", "work_minutes", "completion_note",
    "hold_reason", "hold_until", "held_from", "proposed_visit_text", "proposed_visit_at", "signoff",
    "signoff_due_at", "verified_at", "survey", "warranty_of")
EVENT_COLS = ("ticket_id", "at", "actor", "channel", "action", "from_status", "to_status", "details")
CARD_COLS = ("ticket_id", "channel", "recipient_user", "recipient_chat", "audience", "message_id", "handle",
             "created_at", "updated_at")
PHOTO_COLS = ("ticket_id", "channel", "uploader", "path", "content_type", "size", "sha256", "created_at", "kind")
WATCHER_COLS = ("ticket_id", "channel", "chat_id", "user_id", "created_at")
OUTBOX_COLS = ("dedupe_key", "ticket_id", "channel", "recipient", "kind", "payload", "status", "attempts",
               "next_attempt_at", "created_at", "sent_at", "last_error", "platform_message_id", "claimed_by")
TIMER_COLS = ("key", "ticket_id", "kind", "due_at", "status", "done_at", "details")
FOLLOWUP_COLS = ("ticket_id", "reason", "selected_at", "called_at", "called_by", "outcome", "note")
TABLES = {"tickets": TICKET_COLS, "ticket_events": EVENT_COLS, "card_copies": CARD_COLS, "photos": PHOTO_COLS,
          "ticket_watchers": WATCHER_COLS, "outbox": OUTBOX_COLS, "timers": TIMER_COLS,
          "followups": FOLLOWUP_COLS}

EMPTY_LIST, EMPTY_DICT = "[]", "{}"
MIN, HOUR = timedelta(minutes=1), timedelta(hours=1)


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode   # one encoder, not one a call


@lru_cache(maxsize=65536)
def location_key(location: str) -> str:
    from conversations.extract import normalize_location

    return normalize_location(location)


def _timer(ticket_id: int, kind: str, due: datetime, status: str = "pending", details: str = EMPTY_DICT,
           key: str = "") -> tuple:
    """A row of `timers`, keyed as dispatch.timers.schedule keys it."""
    return (key or f"{kind}:{ticket_id}:{int(due.timestamp())}", ticket_id, kind, due, status,
            due if status == "done" else None, details)


def escalation_timers(tid: int, created: datetime, category: str, area: str, status: str,
                      visit_at: datetime | None, events: list[tuple], now: datetime) -> list[tuple]:
    """The escalation steps (dispatch/escalation.py) an open ticket has by now, computed by the project's own
    clocks: pending while the clock runs, done once a step's time passed, cancelled when the clock stopped or
    waits for someone."""
    from types import SimpleNamespace

    from dispatch.clocks import ticket_clocks
    from dispatch.escalation import STEP, chain_for, step_offset
    from dispatch.policy import Policy

    view = SimpleNamespace(created_at=created, category=category, area=area, status=status, visit_at=visit_at,
                           events=[SimpleNamespace(at=e[0], action=e[3], from_status=e[4], to_status=e[5])
                                   for e in events])
    out = []
    for name, clock in ticket_clocks(view, now).items():
        live = clock.running and not (clock.operational.paused and clock.operational.paused_for != "visit_time")
        for i, step in enumerate(chain_for(Policy(), category, name)):   # no [[escalation]]: the default chain
            due = clock.operational.due_at + timedelta(seconds=step_offset(step.at, clock.limit))
            state = ("done" if due <= now else "pending") if live else "cancelled"
            out.append(_timer(tid, STEP, due, state, _dumps({"clock": name, "step": i, "at": step.at,
                                                             "notify": step.notify}), f"esc:{tid}:{name}:{i}"))
    return out



def _pick(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([s for s, _ in table], weights=[w for _, w in table])[0]


class World:
    """The roster and residents, and how each day's rows are made from them."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.staff = roster()
        self.by_trade = {t: [s for s in self.staff if s.role == "technician" and t in s.trades] for t, _, _ in TRADES}
        self.trade_keys = [t for t, _, _ in TRADES]
        self.trade_weights = [w for _, w, _ in TRADES]
        self.frequent = max(1, int(plan.residents * FREQUENT_SHARE))
        self.backlog_since = plan.now - timedelta(days=plan.backlog_days)

    def resident(self, index: int) -> Resident:
        return resident(index, len(self.staff))

    def reporter(self, rng: random.Random) -> int:
        if rng.random() < FREQUENT_REPORTS:
            return rng.randrange(self.frequent)          # residents 0 .. frequent-1 report often
        return rng.randrange(self.plan.residents)

    def day(self, d: int) -> dict[str, list[tuple]]:
        """Every row of the tickets filed on day d (ids follow from the plan, the rest from the day's RNG)."""
        plan, now = self.plan, self.plan.now
        rng = random.Random(f"{plan.seed}:{d}")
        start = plan.day_start(d)
        span = max(60, min(86400, int((now - start).total_seconds()) - 60))
        moments = sorted(start + timedelta(seconds=rng.randrange(span)) for _ in range(plan.count(d)))
        day_text = start.strftime("%Y%m%d")
        rows: dict[str, list[tuple]] = {name: [] for name in TABLES}
        first = plan.first_id(d)
        for k, created in enumerate(moments):
            self._ticket(rng, first + k, f"BX{day_text}-{k + 1:04d}", created, rows)
        return rows

    def _ticket(self, rng: random.Random, tid: int, number: str, created: datetime,
                rows: dict[str, list[tuple]]) -> None:
        now = self.plan.now
        recent = created >= self.backlog_since
        status = _pick(rng, RECENT if recent else OLD)
        r = self.resident(self.reporter(rng))
        trade = rng.choices(self.trade_keys, weights=self.trade_weights)[0]
        # A quote is for work in a unit only (public-area work is the property's own, BR-7).
        public = status not in ("quoted", "quote_accepted", "rejected") and rng.random() < PUBLIC_SHARE
        if public:
            place = PUBLIC_PLACES[rng.randrange(len(PUBLIC_PLACES))]
            location = f"{r.building}栋{place}" if place != "地下车库" else f"地下车库B{1 + r.building % 2}"
        else:
            location = f"{r.building}栋{r.unit}单元{r.room}{UNIT_ROOMS[rng.randrange(len(UNIT_ROOMS))]}"
        description = rng.choice(FAULTS[trade])
        category = "emergency" if rng.random() < 0.05 else ("planned" if rng.random() < 0.1 else "daily")
        techs = self.by_trade[trade]
        tech = techs[rng.randrange(len(techs))]
        reporter = f"{r.platform}:{r.user}"

        # The path this status implies, as (action, from, to, actor, channel, details), with the times.
        t = created
        events: list[tuple] = [(created, reporter, r.platform, "created", "", "submitted",
                                {"category": category, "trade": trade, "photos": 0})]
        cols = dict.fromkeys(("dispatched_at", "accepted_at", "arrived_at", "completed_at", "closed_at", "visit_at",
                              "quote", "fee", "rating", "work_minutes", "hold_until", "proposed_visit_at",
                              "signoff_due_at", "verified_at", "warranty_of", "assignee_id"))
        cols.update(awaiting="", quote_items=EMPTY_LIST, quote_status="", quote_note="", waiver=EMPTY_DICT,
                    materials=EMPTY_LIST, completion_note="", hold_reason="", held_from="", proposed_visit_text="",
                    signoff="", survey=EMPTY_DICT, visit_text="")

        def step(after: timedelta, action: str, before: str, to: str, actor: str = f"wecom:{tech.user}",
                 channel: str = "wecom", **details) -> datetime:
            nonlocal t
            t = min(max(t + after, t + MIN), now - MIN) if recent else t + after
            events.append((t, actor, channel, action, before, to, details))
            return t

        def spread(lo: float, hi: float) -> timedelta:
            return timedelta(seconds=rng.uniform(lo, hi))

        state = "submitted"
        if status != "submitted":
            cols["dispatched_at"] = step(timedelta(seconds=3), "dispatched", "submitted", "dispatched", "system",
                                         "system", technicians=[s.name for s in techs])
            state = "dispatched"
        if status == "cancelled":
            if rng.random() < 0.5:
                cols["accepted_at"] = step(spread(120, 7200), "accepted", state, "accepted", assignee=tech.name)
                cols["assignee_id"] = tech.id
                state = "accepted"
            cols["closed_at"] = step(spread(600, 86400), "cancelled", state, "cancelled", "wecom:desk-1",
                                     reason="住户已自行修好")
            state = "cancelled"
        elif status not in ("submitted", "dispatched"):
            cols["accepted_at"] = step(spread(120, 7200), "accepted", "dispatched", "accepted", assignee=tech.name)
            cols["assignee_id"] = tech.id
            state = "accepted"
            if rng.random() < 0.3:
                cols["visit_text"] = "明天上午"
                cols["visit_at"] = t + timedelta(hours=16)
            if status != "accepted":
                cols["arrived_at"] = step(spread(1200, 10800), "arrived", "accepted", "on_site")
                state = "on_site"
            paid = status in ("quoted", "quote_accepted", "rejected") or (
                not public and status not in ("accepted", "on_site") and rng.random() < 0.3)
            if paid and state == "on_site":
                amount = Decimal(rng.choice((30, 50, 80, 120, 180, 260, 450, 600)))
                items = [{"name": "上门维修费", "amount": "30"}, {"name": "更换配件", "amount": str(amount - 30)}] \
                    if amount > 30 else [{"name": "上门维修费", "amount": "30"}]
                cols.update(quote=amount, quote_items=_dumps(items), quote_status="pending")
                step(spread(300, 1800), "quoted", "on_site", "quoted", total=str(amount))
                state = "quoted"
                if status == "quoted":
                    cols["awaiting"] = "quote"
                elif status == "rejected":
                    cols["quote_status"] = "declined"
                    step(spread(60, 3600), "quote_declined", "quoted", "rejected", reporter, r.platform)
                    state = "rejected"
                else:
                    cols["quote_status"] = "agreed"
                    cols["fee"] = amount
                    step(spread(60, 3600), "quote_agreed", "quoted", "quote_accepted", reporter, r.platform)
                    state = "quote_accepted"
            if status == "on_hold":
                cols.update(hold_reason="等配件", held_from=state, hold_until=now + timedelta(days=rng.randint(1, 5)))
                step(spread(600, 3600), "held", state, "on_hold", reason="等配件")
                state = "on_hold"
            if status in ("completed", "verified", "closed", "rework"):
                cols["completed_at"] = step(spread(1200, 14400), "completed", state, "completed",
                                            materials=1, minutes=45)
                cols.update(materials=_dumps([{"name": "配件", "qty": 1}]), work_minutes=rng.randint(15, 180),
                            completion_note="已处理")
                state = "completed"
                if recent and status == "completed":
                    # Just reported done: the resident (unit) or the desk (public) still has to answer.
                    t = max(t, now - spread(600, 20 * 3600))
                    events[-1] = (t, *events[-1][1:])
                    cols["completed_at"] = t
                    if not public:
                        cols.update(awaiting="signoff", signoff_due_at=t + timedelta(days=1))
                        rows["timers"].append(_timer(tid, "signoff_auto", t + timedelta(days=1)))
                elif status == "rework":
                    cols["signoff"] = "not_fixed"
                    step(spread(600, 7200), "not_fixed", "completed", "rework", reporter, r.platform)
                    state = "rework"
                else:
                    if public:
                        cols["verified_at"] = step(spread(600, 7200), "verified", "completed", "verified",
                                                   "wecom:hk-1", passed=True)
                        cols["signoff"] = "verified"
                    else:
                        auto = rng.random() < 0.3
                        cols["verified_at"] = step(timedelta(days=1) if auto else spread(600, 20000),
                                                   "signed_off_auto" if auto else "signed_off", "completed",
                                                   "verified", "system" if auto else reporter,
                                                   "system" if auto else r.platform)
                        cols["signoff"] = "auto" if auto else "fixed"
                    state = "verified"
                    if status == "verified":
                        if recent:
                            t = max(t, now - spread(600, 40 * 3600))
                            events[-1] = (t, *events[-1][1:])
                            cols["verified_at"] = t
                        cols.update(awaiting="survey", survey=_dumps({"status": "asked", "asked_at": t.isoformat()}))
                        rows["timers"].append(_timer(tid, "survey_reminder", t + timedelta(days=1)))
                        rows["timers"].append(_timer(tid, "survey_lapse", t + timedelta(days=2)))
                    else:
                        if rng.random() < 0.6:
                            score = rng.choice((5, 5, 5, 4, 4, 3))
                            cols["rating"] = score
                            cols["survey"] = _dumps({"status": "answered", "overall": score, "quality": score,
                                                     "service": score, "communication": score})
                            cols["closed_at"] = step(spread(600, 86400), "survey_done", "verified", "closed",
                                                     reporter, r.platform, overall=score)
                        else:
                            cols["survey"] = _dumps({"status": "lapsed"})
                            cols["closed_at"] = step(timedelta(days=2), "survey_done", "verified", "closed",
                                                     "system", "system", lapsed=True)
                        state = "closed"
        assert state == status, (state, status)
        if recent and status not in ("closed", "cancelled"):
            rows["timers"].extend(escalation_timers(tid, created, category, "public" if public else "unit", status,
                                                    cols["visit_at"], events, now))
        if cols["verified_at"] and not public:
            # BR-25: every verified unit ticket is picked for a follow-up call (units alone keep the share
            # above 60 %, so no public one is); the closed ones were called.
            called = cols["closed_at"] if status == "closed" else None
            rows["followups"].append((tid, "unit", cols["verified_at"], called, "冯管家" if called else "",
                                      "reached" if called else "", ""))

        rows["tickets"].append((
            tid, number, PROPERTY, status, "public" if public else "unit", location, location_key(location),
            f"{r.building}栋", r.name, r.phone, f"{location}{description}", category, trade, r.platform,
            r.platform, r.user, r.user, r.person_id, cols["visit_text"], cols["visit_at"], cols["assignee_id"],
            created, cols["dispatched_at"], cols["accepted_at"], cols["arrived_at"], cols["completed_at"],
            cols["closed_at"], cols["quote"], cols["fee"], cols["rating"], len(events), None, cols["awaiting"],
            cols["quote_items"], cols["quote_status"], cols["quote_note"], cols["waiver"], cols["materials"],
            cols["work_minutes"], cols["completion_note"], cols["hold_reason"], cols["hold_until"], cols["held_from"],
            cols["proposed_visit_text"], cols["proposed_visit_at"], cols["signoff"], cols["signoff_due_at"],
            cols["verified_at"], cols["survey"], cols["warranty_of"]))
        rows["ticket_events"].extend((tid, at, actor, channel, action, before, to, _dumps(details))
                                     for at, actor, channel, action, before, to, details in events)
        if status == "submitted":
            return
        # Card copies: the trade's WeCom group and every technician of the trade (routing.plan_dispatch).
        sent = cols["dispatched_at"]
        touched = events[-1][0] if len(events) > 2 else None
        rows["card_copies"].append((tid, "wecom", "", f"wr-{trade}", "group", f"m{tid}g", f"h{tid}g", sent, touched))
        rows["card_copies"].extend((tid, "wecom", s.user, "", "technician", f"m{tid}t{s.id}", f"h{tid}t{s.id}",
                                    sent, touched) for s in techs)
        photos = rng.random()
        for k in range(2 if photos < 0.1 else 1 if photos < 0.45 else 0):
            rows["photos"].append((tid, r.platform, r.user, f"{created:%Y/%m/%d}/{tid:012x}{k}.jpg", "image/jpeg",
                                   150_000 + tid % 90_000, f"{tid:064x}", created, "report"))
        if cols["completed_at"] and rng.random() < 0.5:
            rows["photos"].append((tid, "wecom", tech.user, f"{cols['completed_at']:%Y/%m/%d}/{tid:012x}a.jpg",
                                   "image/jpeg", 160_000 + tid % 90_000, f"{tid:063x}a", cols["completed_at"], "after"))
        if rng.random() < 0.02:
            w = self.resident(rng.randrange(self.plan.residents))
            if w.index != r.index:
                rows["ticket_watchers"].append((tid, w.platform, w.user, w.user, created + MIN))
        if created >= now - timedelta(days=OUTBOX_DAYS):
            for k, (at, *_rest, details) in enumerate(events[1:]):
                rows["outbox"].append((f"{number}:bench:{k}", tid, r.platform, f"user:{r.user}", "text",
                                       _dumps({"template": "notify/accepted.j2", "ticket": number, "vars": {}}),
                                       "sent", 1, at, at, at + timedelta(seconds=1), "", f"pm{tid}-{k}", ""))
            rows["outbox"].extend(
                (f"{number}:dispatch:wecom:user:{s.user}", tid, "wecom", f"user:{s.user}", "card",
                 _dumps({"ticket": number, "audience": "technician"}), "sent", 1, sent, sent,
                 sent + timedelta(seconds=1), "", f"pc{tid}-{s.id}", "") for s in techs)


# ---- loading ------------------------------------------------------------------------------------------

def people_rows(world: World) -> tuple[list[tuple], list[tuple]]:
    now = world.plan.now
    persons, identities = [], []
    for s in world.staff:
        persons.append((s.id, PROPERTY, s.name, s.role, s.phone, _dumps(list(s.trades)), now - timedelta(days=400)))
        identities.append((s.id, "wecom", s.user))
    for i in range(world.plan.residents):
        r = world.resident(i)
        persons.append((r.person_id, PROPERTY, r.name, "resident", r.phone, EMPTY_LIST, now - timedelta(days=400)))
        identities.append((r.person_id, r.platform, r.user))
    return persons, identities


async def _secondary_indexes(conn, tables: tuple[str, ...]) -> list[tuple[str, str]]:
    """(name, CREATE statement) of every index that backs no constraint: dropped for the COPY, built after."""
    return [(r["indexname"], r["indexdef"]) for r in await conn.fetch(
        """SELECT i.indexname, i.indexdef FROM pg_indexes i
           WHERE i.schemaname = 'public' AND i.tablename = ANY($1::text[])
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""", list(tables))]


async def _loader(dsn: str):
    import asyncpg

    conn = await asyncpg.connect(dsn)
    # A bulk load of rows that are consistent by construction: no foreign-key trigger per row, no fsync wait.
    await conn.execute("SET session_replication_role = replica; SET synchronous_commit = off")
    return conn


async def _copy_all(conns: list, rows: dict[str, list[tuple]], counts: dict[str, int]) -> None:
    """Each table's rows on its own connection, so the server works on them while this process encodes."""
    jobs = []
    for conn, (table, records) in zip(conns, ((t, r) for t, r in rows.items() if r)):
        jobs.append(conn.copy_records_to_table(table, records=records, columns=TABLES[table]))
        counts[table] = counts.get(table, 0) + len(records)
    await asyncio.gather(*jobs)


async def load(dsn: str, plan: Plan, days: range, *, log, fresh: bool) -> dict[str, int]:
    """COPY the days' rows; on a fresh database also the people, with the secondary indexes dropped
    before and built after. Then VACUUM ANALYZE."""
    import asyncpg

    world = World(plan)
    admin = await asyncpg.connect(dsn)
    conns = [await _loader(dsn) for _ in TABLES]
    counts: dict[str, int] = {}
    try:
        indexes = await _secondary_indexes(admin, (*TABLES, "persons", "person_identities")) if fresh else []
        for name, _ in indexes:
            await admin.execute(f'DROP INDEX "{name}"')
        if fresh:
            persons, identities = people_rows(world)
            await conns[0].copy_records_to_table(
                "persons", records=persons, columns=("id", "property", "name", "role", "phone", "trades", "created_at"))
            await conns[0].copy_records_to_table(
                "person_identities", records=identities, columns=("person_id", "platform", "external_id"))
            await conns[0].copy_records_to_table(
                "trades", records=[(t, TRADE_NAMES[t], f"wr-{t}", "") for t, _, _ in TRADES],
                columns=("key", "name", "wecom_chat_id", "feishu_chat_id"))
            counts.update(persons=len(persons), person_identities=len(identities))
            log(f"people: {len(persons):,} persons ({len(world.staff)} staff)")
        started, batch, pending = time.perf_counter(), {name: [] for name in TABLES}, 0
        total = sum(plan.count(x) for x in days)
        for n, d in enumerate(days, 1):
            for name, records in world.day(d).items():
                batch[name].extend(records)
            pending += plan.count(d)
            if pending >= 20_000 or n == len(days):
                await _copy_all(conns, batch, counts)
                batch, pending = {name: [] for name in TABLES}, 0
                done = counts.get("tickets", 0)
                if done == total or done % 100_000 < 20_000:
                    log(f"tickets: {done:,} / {total:,} ({done / (time.perf_counter() - started):,.0f}/s)")
        if indexes:
            await admin.execute("SET maintenance_work_mem = '512MB'")
            t0 = time.perf_counter()
            for _, create in indexes:
                await admin.execute(create)
            log(f"{len(indexes)} indexes built in {time.perf_counter() - t0:.1f} s")
        counters = [(plan.day_start(d).strftime("%Y%m%d"), plan.count(d)) for d in days]
        await admin.executemany(
            "INSERT INTO ticket_counters (day, last) VALUES ($1, $2) ON CONFLICT (day) DO UPDATE SET last = $2",
            counters)
        # The follow-up pick's running totals (dispatch/followups.py), as the verifications would have left them.
        await admin.execute(
            """INSERT INTO ticket_counters (day, last) VALUES
                 ('FU:all', (SELECT count(*) FROM tickets WHERE verified_at IS NOT NULL)),
                 ('FU:pick', (SELECT count(*) FROM followups))
               ON CONFLICT (day) DO UPDATE SET last = excluded.last""")
        for table in ("tickets", "persons"):
            await admin.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
        await admin.execute(
            "INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2",
            SEED_KEY, plan.as_json())
        t0 = time.perf_counter()
        await admin.execute("VACUUM ANALYZE")
        # The load's dirty pages written out now, not by a checkpoint in the middle of the measurement.
        await admin.execute("CHECKPOINT")
        log(f"VACUUM ANALYZE and CHECKPOINT in {time.perf_counter() - t0:.1f} s")
    finally:
        for c in conns:
            await c.close()
        await admin.close()
    return counts


# Every table that points at a ticket, and the column, as the schema has them now (a new table is included).
REFERRERS = """SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
               WHERE c.contype = 'f' AND c.confrelid = 'tickets'::regclass"""


async def rearm(dsn: str, plan: Plan, *, log) -> dict[str, int]:
    """Write the backlog window again: its tickets, everything pointing at them and what runs added are
    deleted, then the same days are COPYed again (same numbers, same states)."""
    first = plan.backlog_first_day()
    conn = await _loader(dsn)   # no foreign-key triggers: each child table is cleared by one statement
    try:
        t0 = time.perf_counter()
        async with conn.transaction():
            for table, column in await conn.fetch(REFERRERS):
                await conn.execute(f'DELETE FROM {table} WHERE "{column}" >= $1', plan.first_id(first))
            await conn.execute("DELETE FROM outbox WHERE created_at > $1", plan.now)
            await conn.execute("DELETE FROM action_receipts WHERE created_at > $1", plan.now)
            await conn.execute("DELETE FROM tickets WHERE id >= $1", plan.first_id(first))
        log(f"backlog ({plan.backlog_days} days) deleted in {time.perf_counter() - t0:.1f} s")
    finally:
        await conn.close()
    return await load(dsn, plan, range(first, plan.days), log=log, fresh=False)
