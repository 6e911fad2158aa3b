"""The technician's short conversations after pressing 报价, 暂停, 改约 or 完工 on a card, in their 1:1 chat.

A press of one of these buttons (relay/card_actions.py) checks first that the action is allowed now, then
starts the flow (`StaffFlows.start`) in the presser's 1:1 conversation: the same storage key and lock as the
intake, the flow kept beside any draft as `raw["staff"]`. The engine hands it every message of that chat
until it ends: each step reads one answer, the last asks for 确认, and 确认 runs the one domain action
(dispatch.actions.act) with the body the answers made. 取消 leaves it at any step, changing nothing.

```mermaid
stateDiagram-v2
    [*] --> items: 报价
    items --> note
    note --> confirm
    [*] --> reason: 暂停
    reason --> until
    until --> confirm
    [*] --> visit: 改约
    visit --> confirm
    [*] --> materials: 完工
    materials --> minutes
    minutes --> note
    note --> photos: 完工
    photos --> confirm
    confirm --> [*]: 确认 (act)
    confirm --> items: 重填 (the flow's first step)
```
"""
from __future__ import annotations

import asyncio
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from conversations.intake import Turn
from conversations.messages import Reply
from conversations.storage import StorageKey
from conversations.textcheck import cn_int, fold_width, is_too_long
from conversations.visit_time import parse_visit
from conversations.vocabulary import longest_first, rule_file
from templates.texts import yuan
from templates.words import buttons, choices, labels

# The steps of each flow, in order; `confirm` runs the action.
STEPS: dict[str, tuple[str, ...]] = {
    "quote": ("items", "note", "confirm"),
    "hold": ("reason", "until", "confirm"),
    "reschedule": ("visit", "confirm"),
    "complete": ("materials", "minutes", "note", "photos", "confirm"),
}
FLOW_ACTIONS = tuple(STEPS)
# The body field act() names as invalid → the step that asks for it again.
FIELD_STEP = {"items": "items", "note": "note", "reason": "reason", "until": "until", "visit_text": "visit",
              "materials": "materials", "minutes": "minutes", "photo_ids": "photos"}
MAX_TEXT = 200            # a reason, a note, a quote line's name
MAX_LINES = 20            # quote or material lines in one flow
MAX_MINUTES = 7 * 24 * 60
GRACE = 86400  # kept past its TTL, as the engine keeps a draft: a late message is told the flow lapsed

_BUTTONS = buttons()
_CONFIRM, _CANCEL = _BUTTONS["confirm"], _BUTTONS["cancel"]
_WORDS = choices("staff")
_DONE, _SKIP, _REDO = _WORDS["done"], _WORDS["skip"], _WORDS["redo"]
_RULES = rule_file("staff_flow.toml")
_SEPARATORS = re.compile("|".join(map(re.escape, ["\n", *_RULES["lines"]["separators"]])))
_AMOUNT_UNITS = longest_first(_RULES["amount"]["units"])
_NUMBER = r"\d+(?:\.\d+)?"
# 「更换角阀 80」「更换角阀80元」: a name, then an amount in 元 at the end.
_PRICED = re.compile(rf"^(?P<name>.+?)\s*(?P<amount>{_NUMBER})\s*(?:{_AMOUNT_UNITS})?$", re.IGNORECASE)
# 「生料带 2」「生料带2卷」「水龙头 x1」: a name, then a quantity and at most a short unit.
_COUNTED = re.compile(rf"^(?P<name>.+?)\s*[xX×*]?\s*(?P<qty>{_NUMBER})\S{{0,2}}$")
_HOURS = longest_first(_RULES["duration"]["hours"])
_MINS = longest_first(_RULES["duration"]["minutes"])
_HALF = re.escape(_RULES["duration"]["half"])
_COUNTER = re.escape(_RULES["duration"]["counter"])
_QTY = rf"(?:{_NUMBER}|(?:(?!{_HALF}|{_COUNTER})[^\d\s]){{1,3}}?)"  # 1.5 or a Chinese numeral (一, 二十)
_DURATION = re.compile(
    rf"^(?:(?P<h>{_QTY})?\s*(?:{_COUNTER})?\s*(?P<hhalf>{_HALF})?\s*(?:{_HOURS})\s*(?P<hhalf2>{_HALF})?)?"
    rf"\s*(?:(?P<m>{_QTY})\s*(?:{_MINS})?)?$", re.IGNORECASE)


@dataclass
class StaffFlow:
    """What a staff conversation has collected so far; stored as JSON under `raw["staff"]`."""

    action: str                       # quote | hold | reschedule | complete
    ticket: str                       # its number
    step: str = ""
    trade: str = ""                   # the ticket's trade: which prices apply
    items: list[dict[str, Any]] = field(default_factory=list)       # quote lines {"name", "amount", "key"?}
    note: str = ""
    reason: str = ""
    until: str = ""                   # ISO 8601
    until_text: str = ""
    visit_text: str = ""
    visit_at: str = ""
    materials: list[dict[str, Any]] = field(default_factory=list)   # {"name", "qty"}
    minutes: int | None = None
    photo_ids: list[int] = field(default_factory=list)
    reply_token: str = ""             # the press's token to rewrite the card it was pressed on (WeCom)
    updated_at: str = ""

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> StaffFlow | None:
        if not raw or raw.get("action") not in STEPS:
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def steps(self) -> tuple[str, ...]:
        return STEPS[self.action]

    def next_step(self) -> str:
        i = self.steps.index(self.step)
        return self.steps[min(i + 1, len(self.steps) - 1)]


def one_to_one(channel: str, user: str) -> StorageKey:
    """A person's 1:1 conversation with the bot: its chat is the user on every platform staff use
    (sim, WeCom's app, Feishu p2p as bot/feishu/adapter.py keys it)."""
    return StorageKey(channel, user, user)


class StaffFlows:
    """Starts a flow from a card press, and runs one step of a stored flow for the engine."""

    def __init__(self, deps: Any) -> None:
        self.deps = deps  # conversations.engine.Deps

    @property
    def ttl(self) -> int:
        return self.deps.intake.draft_ttl

    async def start(self, channel: str, user: str, action: str, ticket: Any, reply_token: str = "") -> str:
        """Store a new flow in the presser's 1:1 conversation (a flow left unfinished there is replaced)
        and return its first question."""
        deps = self.deps
        now = deps.clock.now()
        flow = StaffFlow(action=action, ticket=ticket.number, trade=ticket.trade, step=STEPS[action][0],
                         reply_token=reply_token, updated_at=now.isoformat())
        async with deps.storage.hold(one_to_one(channel, user)) as held:
            raw = dict(held.value or {})
            before = StaffFlow.from_dict(raw.get("staff"))
            raw["staff"] = flow.to_dict()
            held.put(raw, self.ttl + GRACE)
        replaced = before.action if before is not None and not self.expired(before, now) else ""
        template, ctx = _question(deps, flow)
        return deps.texts.render(template, replaced=replaced, **ctx)

    def expired(self, flow: StaffFlow, now: datetime) -> bool:
        return bool(flow.updated_at) and now - datetime.fromisoformat(flow.updated_at) >= timedelta(seconds=self.ttl)

    async def step(self, turn: Turn, raw: dict[str, Any]) -> dict[str, Any] | None:
        """One message of a flow; returns the flow to keep, or None when it ended."""
        flow = StaffFlow.from_dict(raw)
        if flow is None:
            return None
        if self.expired(flow, turn.now):
            turn.say("staff/expired.j2", action=flow.action, number=flow.ticket, minutes=self.ttl // 60)
            return None
        kept = await _step(turn, flow)
        if kept is not None:
            kept.updated_at = turn.now.isoformat()
            return kept.to_dict()
        return None


# ---- one step ---------------------------------------------------------------------------------------------

async def _step(turn: Turn, flow: StaffFlow) -> StaffFlow | None:
    msg = turn.msg
    if msg.image is not None or msg.image_failed:
        return await _photo(turn, flow)
    text = msg.text.strip()  # kept as typed (a note, a reason); what is parsed is folded to half width
    if _is(_CANCEL, text):
        turn.say("staff/cancelled.j2", action=flow.action, number=flow.ticket)
        return None
    if not text:
        if msg.voice:   # a technician on a ladder speaks: never silence, say why the question comes again
            return _ask(turn, flow, prefix=turn.text("staff/voice_unreadable.j2"))
        return _ask(turn, flow)
    if is_too_long(text):
        turn.say("staff/too_long.j2")
        return _ask(turn, flow)
    if flow.step != flow.steps[0] and _is(_REDO, text):
        return _restart(turn, flow)
    return await READERS[flow.step](turn, flow, text)


def _is(choice, text: str) -> bool:
    """Does the answer choose this (after full-width folding, as the contract's words are matched)?"""
    return choice.matches(fold_width(text))


def _restart(turn: Turn, flow: StaffFlow) -> StaffFlow:
    fresh = StaffFlow(action=flow.action, ticket=flow.ticket, trade=flow.trade, step=flow.steps[0],
                      reply_token=flow.reply_token, photo_ids=flow.photo_ids)
    return _ask(turn, fresh)


def _advance(turn: Turn, flow: StaffFlow) -> StaffFlow:
    flow.step = flow.next_step()
    return _ask(turn, flow)


def _ask(turn: Turn, flow: StaffFlow, prefix: str = "") -> StaffFlow:
    template, ctx = _question(turn.deps, flow)
    options = labels("confirm", "cancel") if flow.step == "confirm" else ()
    text = turn.text(template, replaced="", **ctx)
    turn.replies.append(Reply(f"{prefix}\n{text}" if prefix else text, options))
    return flow


def _question(deps: Any, flow: StaffFlow) -> tuple[str, dict[str, Any]]:
    """The template that asks for the flow's current step, and its variables."""
    number = flow.ticket
    step = flow.step
    if step == "items":
        return "staff/quote_items.j2", {"number": number, "prices": _prices(deps, flow)}
    if step == "note":
        return "staff/ask_note.j2", {}
    if step == "reason":
        return "staff/hold_reason.j2", {"number": number}
    if step == "until":
        return "staff/hold_until.j2", {}
    if step == "visit":
        return "staff/reschedule_visit.j2", {"number": number}
    if step == "materials":
        return "staff/complete_materials.j2", {"number": number, "materials": list(deps.policy.materials)}
    if step == "minutes":
        return "staff/complete_minutes.j2", {}
    if step == "photos":
        return "staff/complete_photos.j2", {}
    return f"staff/{flow.action}_confirm.j2", _summary(flow)


def _summary(flow: StaffFlow) -> dict[str, Any]:
    if flow.action == "quote":
        total = sum((Decimal(i["amount"]) for i in flow.items), Decimal(0))
        return {"number": flow.ticket, "items": [{**i, "amount": yuan(i["amount"])} for i in flow.items],
                "total": yuan(total), "note": flow.note}
    if flow.action == "hold":
        return {"number": flow.ticket, "reason": flow.reason, "until_text": flow.until_text}
    if flow.action == "reschedule":
        return {"number": flow.ticket, "visit_text": flow.visit_text,
                "visit_at": datetime.fromisoformat(flow.visit_at) if flow.visit_at else None}
    return {"number": flow.ticket, "materials": flow.materials, "minutes": flow.minutes, "note": flow.note,
            "photos": len(flow.photo_ids)}


def _prices(deps: Any, flow: StaffFlow) -> list[Any]:
    """The price list a technician of this trade quotes from (BR-13): the trade's own lines and the shared ones."""
    return [p for p in deps.policy.prices if not p.trade or p.trade == flow.trade]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in _SEPARATORS.split(fold_width(text)) if line.strip()]


def _amount(raw: str) -> Decimal | None:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    return value if Decimal(0) <= value <= Decimal(1_000_000) else None


def _qty(raw: str) -> int | float | None:
    if re.fullmatch(_NUMBER, raw):
        value = float(raw)
        return int(value) if value.is_integer() else value
    return cn_int(raw)


# ---- the readers: one per step ------------------------------------------------------------------------------

async def _read_items(turn: Turn, flow: StaffFlow, text: str) -> StaffFlow:
    """「1」「1 3」 take price-list lines; 「名称 金额」 is a line of its own; several lines at once."""
    prices = _prices(turn.deps, flow)
    items: list[dict[str, Any]] = []
    for line in _lines(text):
        tokens = line.split()
        if all(t.isdigit() for t in tokens):
            picked = [int(t) for t in tokens]
            if not all(1 <= i <= len(prices) for i in picked):
                turn.say("staff/quote_unclear.j2", line=line, count=len(prices))
                return _ask(turn, flow)
            items += [{"name": prices[i - 1].name, "amount": str(prices[i - 1].amount), "key": prices[i - 1].key}
                      for i in picked]
            continue
        m = _PRICED.match(line)
        amount = _amount(m.group("amount")) if m else None
        if m is None or amount is None or not m.group("name").strip():
            turn.say("staff/quote_unclear.j2", line=line, count=len(prices))
            return _ask(turn, flow)
        items.append({"name": m.group("name").strip()[:MAX_TEXT], "amount": str(amount)})
    if not items or len(items) > MAX_LINES:
        turn.say("staff/quote_unclear.j2", line=text[:40], count=len(prices))
        return _ask(turn, flow)
    flow.items = items
    return _advance(turn, flow)


async def _read_note(turn: Turn, flow: StaffFlow, text: str) -> StaffFlow:
    flow.note = "" if _is(_SKIP, text) else text[:MAX_TEXT]
    return _advance(turn, flow)


async def _read_reason(turn: Turn, flow: StaffFlow, text: str) -> StaffFlow:
    flow.reason = text[:MAX_TEXT]
    return _advance(turn, flow)


async def _read_until(turn: Turn, flow: StaffFlow, text: str) -> StaffFlow:
    if _is(_SKIP, text):
        flow.until, flow.until_text = "", ""
        return _advance(turn, flow)
    when = _future_time(turn, text, strict=True)
    if when is None:
        return _ask(turn, flow)
    flow.until_text, flow.until = when[0], when[1].isoformat()
    return _advance(turn, flow)


async def _read_visit(turn: Turn, flow: StaffFlow, text: str) -> StaffFlow:
    """BR-11/12: the new time is proposed to the resident, who agrees or not (dispatch/resident.py)."""
    when = _future_time(turn, text)
    if when is None:
        return _ask(turn, flow)
    flow.visit_text, flow.visit_at = text[:64], when[1].isoformat()
    return _advance(turn, flow)


def _future_time(turn: Turn, text: str, strict: bool = False) -> tuple[str, datetime] | None:
    """A day and time phrase (conversations/visit_time.py) that is not over yet; says why when it is not.

    A visit may be a window already running (「今天下午」 at 15:00 starts now); with `strict` (the end of a
    hold) the time must still be ahead, so a window already running asks for the hour.
    """
    parsed = parse_visit(fold_width(text), turn.deps.clock.local_now())
    if parsed is None:
        turn.say("staff/time_unclear.j2", text=text[:40])
        return None
    if parsed[1] < turn.now - timedelta(minutes=1):
        turn.say("staff/time_past.j2", text=parsed[0])
        return None
    if strict and parsed[1] <= turn.now:
        turn.say("staff/time_vague.j2", text=parsed[0])
        return None
    return parsed


async def _read_materials(turn: Turn, flow: StaffFlow, text: str) -> StaffFlow:
    """BR-17: 「1 2」 is item 1 of the material list, 2 of them; 「名称 数量」 one not on it; 「跳过」 none."""
    if _is(_SKIP, text):
        flow.materials = []
        return _advance(turn, flow)
    listed = list(turn.deps.policy.materials)
    out: list[dict[str, Any]] = []
    for line in _lines(text):
        tokens = line.split()
        if tokens[0].isdigit() and len(tokens) <= 2 and all(_qty(t) is not None for t in tokens):
            index, qty = int(tokens[0]), (_qty(tokens[1]) if len(tokens) == 2 else 1)
            if not 1 <= index <= len(listed) or not qty:
                turn.say("staff/materials_unclear.j2", line=line, count=len(listed))
                return _ask(turn, flow)
            out.append({"name": listed[index - 1].name, "qty": qty})
            continue
        m = _COUNTED.match(line)
        qty = _qty(m.group("qty")) if m else 1
        name = (m.group("name") if m else line).strip()
        if not name or not qty or name.isdigit():
            turn.say("staff/materials_unclear.j2", line=line, count=len(listed))
            return _ask(turn, flow)
        out.append({"name": name[:MAX_TEXT], "qty": qty})
    if len(out) > MAX_LINES:
        turn.say("staff/materials_unclear.j2", line=text[:40], count=len(listed))
        return _ask(turn, flow)
    flow.materials = out
    return _advance(turn, flow)


def parse_minutes(text: str) -> int | None:
    """「45」「45分钟」「1.5小时」「1小时20分」「半小时」「两个半小时」 → minutes; None when it is none of these."""
    m = _DURATION.match(fold_width(text).strip())
    if m is None or not any(m.group(g) for g in ("h", "hhalf", "hhalf2", "m")):
        return None
    hours = Decimal(0)
    if m.group("h"):
        h = _qty(m.group("h"))
        if h is None:
            return None
        hours += Decimal(str(h))
    if m.group("hhalf") or m.group("hhalf2"):
        hours += Decimal("0.5")
    minutes = Decimal(0)
    if m.group("m"):
        mm = _qty(m.group("m"))
        if mm is None:
            return None
        minutes = Decimal(str(mm))
    total = int(hours * 60 + minutes)
    return total if 0 < total <= MAX_MINUTES else None


async def _read_minutes(turn: Turn, flow: StaffFlow, text: str) -> StaffFlow:
    if _is(_SKIP, text):
        flow.minutes = None
        return _advance(turn, flow)
    minutes = parse_minutes(text)
    if minutes is None:
        turn.say("staff/minutes_unclear.j2", text=text[:40])
        return _ask(turn, flow)
    flow.minutes = minutes
    return _advance(turn, flow)


async def _read_photos(turn: Turn, flow: StaffFlow, text: str) -> StaffFlow:
    if _is(_DONE, text) or _is(_SKIP, text):
        return _advance(turn, flow)
    turn.say("staff/photos_waiting.j2")
    return flow


async def _photo(turn: Turn, flow: StaffFlow) -> StaffFlow:
    """Photos sent during 完工 are the after-photos (Photo.kind "after"), kept whatever step they arrive at."""
    from dispatch.tickets import save_photo

    deps, msg = turn.deps, turn.msg
    if flow.action != "complete":
        turn.say("staff/photo_not_needed.j2")
        return _ask(turn, flow)
    limits = deps.intake
    if msg.image_failed:
        turn.say("intake/photo_failed.j2")
        return flow
    data = msg.image or b""
    if len(data) > limits.max_photo_bytes:
        turn.say("intake/photo_too_big.j2", limit_mb=limits.max_photo_bytes // (1024 * 1024))
        return flow
    if len(flow.photo_ids) >= limits.max_photos:
        turn.say("intake/photo_too_many.j2", limit=limits.max_photos)
        return flow
    stored = await asyncio.to_thread(deps.media.save_image, data)
    if stored is None:
        turn.say("intake/photo_invalid.j2")
        return flow
    photo = await save_photo(await turn.db.session(), stored, msg.channel, msg.user, turn.now)
    photo.kind = "after"
    flow.photo_ids.append(photo.id)
    received = turn.text("staff/photo_received.j2", count=len(flow.photo_ids))
    if flow.step == "photos":
        turn.replies.append(Reply(received + "\n" + turn.text("staff/photos_waiting.j2"), ()))
        return flow
    return _ask(turn, flow, prefix=received)


async def _read_confirm(turn: Turn, flow: StaffFlow, text: str) -> StaffFlow | None:
    if not _is(_CONFIRM, text) and not _is(_DONE, text):
        turn.say("staff/confirm_hint.j2")
        return flow
    return await _act(turn, flow)


def body_of(flow: StaffFlow) -> dict[str, Any]:
    """The action's body as contract.md "Lifecycle" has it (the REST API takes the same)."""
    if flow.action == "quote":
        body: dict[str, Any] = {"items": [({"key": i["key"]} if i.get("key") else
                                           {"name": i["name"], "amount": i["amount"]}) for i in flow.items]}
        if flow.note:
            body["note"] = flow.note
        return body
    if flow.action == "hold":
        return {"reason": flow.reason, **({"until": flow.until} if flow.until else {})}
    if flow.action == "reschedule":
        return {"visit_text": flow.visit_text}
    body = {"materials": flow.materials, "photo_ids": flow.photo_ids}
    if flow.minutes:
        body["minutes"] = flow.minutes
    if flow.note:
        body["note"] = flow.note
    return body


async def _act(turn: Turn, flow: StaffFlow) -> StaffFlow | None:
    """确认: the one domain action, in the step's transaction. A redelivered 确认 answers as the first did."""
    from dispatch import receipts
    from dispatch.actions import ActionResult, act
    from dispatch.tickets import get_ticket

    deps, msg = turn.deps, turn.msg
    session = await turn.db.session()
    key = receipts.receipt_key("flow", msg.channel, msg.user, msg.message_id) if msg.message_id else ""
    first = await receipts.claim(session, key, flow.action, flow.ticket, turn.now) if key else None
    if first is not None:
        result = ActionResult(first.outcome, await get_ticket(session, flow.ticket), first.holder)
    else:
        result = await act(session, flow.ticket, flow.action, msg.channel, msg.user, turn.now, body_of(flow),
                           policy=deps.policy, reply_token=flow.reply_token)
        if key:
            await receipts.settle(session, key, result.outcome, result.holder)
    text = turn.text("notify/press_result.j2", outcome=result.outcome, action=flow.action, t=result.ticket,
                     holder=result.holder, detail=result.detail)
    step = FIELD_STEP.get(result.detail) if result.outcome == "invalid" else None
    if step is not None and step in flow.steps:
        flow.step = step  # say which answer was wrong, and ask for it again
        return _ask(turn, flow, prefix=text)
    turn.replies.append(Reply(text, ()))
    return None


READERS = {
    "items": _read_items, "note": _read_note, "reason": _read_reason, "until": _read_until,
    "visit": _read_visit, "materials": _read_materials, "minutes": _read_minutes, "photos": _read_photos,
    "confirm": _read_confirm,
}
