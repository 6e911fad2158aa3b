"""The intake conversation: its states, the draft it fills, the slot table and the step table (BR-2)."""
from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from functools import cached_property
from typing import Any

from conversations import metrics
from conversations.classify import classify
from conversations.corrections import correction_pattern, is_override, parse_correction, slot_words
from conversations.extract import (
    Extracted, bare_room, building_of, extract, find_phone, infer_area, normalize_location, parse_location_answer,
    parse_name_answer, place_word_at,
)
from conversations.messages import InboundMessage, Reply
from conversations.report import build_report
from conversations.unit_list import nearest, split_room
from conversations.stepdb import StepDatabase
from conversations.states import State, StatesGroup
from conversations.visit_time import parse_visit
from conversations.vocabulary import vocabulary
from templates.words import alternation, buttons, labels


class Intake(StatesGroup):
    describing = State()      # what is broken
    locating = State()        # where
    choosing_area = State()   # 公共区域 or 业户单元, only when the location does not tell
    contact = State()         # name and phone, asked together
    confirming = State()      # the summary, waiting for 确认
    duplicate = State()       # BR-4: shown an open ticket for the same fault
    confirming_place = State()  # the unit list has no such room: asked whether the nearest one is meant


# Quick answers: templates/labels/buttons.toml; the words the intake reads: conversations/vocabulary.toml.
_BUTTONS = buttons()
_YES, _PUBLIC, _UNIT, _NEW_REPORT = (_BUTTONS[k] for k in ("confirm", "public", "unit", "new_report"))
_PLACE_YES = _BUTTONS["yes"]
_WORDS = vocabulary()
_NO = re.compile(rf"^(?:{alternation(_WORDS['reject']['words'])})[{re.escape(_WORDS['reject']['trailing'])}]*$")
_INTENT = re.compile(rf"^(?:{alternation(_WORDS['intent']['before'])})?(?:{alternation(_WORDS['intent']['words'])})"
                     rf"(?:{alternation(_WORDS['intent']['after'])})?[{re.escape(_WORDS['intent']['trailing'])}]*$")
_NAME_PREFIX = re.compile(rf"(?:{alternation(_WORDS['contact']['name_prefixes'])})[:：\s]*")
SUMMARY_OPTIONS = ("confirm", "cancel")   # button keys of the summary and the edit hint


@dataclass
class Draft:
    """What the conversation has collected so far; stored as JSON between messages."""

    state: str | None = None
    description: str = ""
    location: str = ""
    area: str = ""
    name: str = ""
    phone: str = ""
    visit_text: str = ""
    visit_at: str = ""          # ISO 8601
    photo_ids: list[int] = field(default_factory=list)
    recording_ids: list[int] = field(default_factory=list)   # voice notes kept with the report (issue 12)
    remembered: bool = False    # name and phone came from this resident's last report
    skip_duplicate: bool = False
    duplicate_of: str = ""
    duplicate_checked: str = ""  # "location key|trade" last checked against open tickets (BR-4)
    place_checked: str = ""     # location key last checked against the estate's unit list
    suggested: str = ""         # the list's nearest place, offered for a room the list does not hold
    candidates: list[str] = field(default_factory=list)  # the list's rooms a bare 「1502」 may be, shown to choose
    started_at: str = ""
    updated_at: str = ""

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Draft | None:
        if not raw:
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Turn:
    """One message being handled: the dependencies, the resident, and the replies so far."""

    deps: Any                  # conversations.engine.Deps (kept loose to avoid an import cycle)
    msg: InboundMessage
    now: datetime
    replies: list[Reply] = field(default_factory=list)
    bad_phone: str = ""        # a phone-like string this message held that is not a valid number
    # What the conversation waits for besides a report (conversations/answers.py): the survey's comment or a
    # complaint's text, {"comment" | "complaint": ticket number, "at": when asked}; saved with the state.
    answers: dict[str, Any] = field(default_factory=dict)
    db: StepDatabase = field(init=False, repr=False)  # the step's database work, opened on first use
    reads: Any = None          # dispatch.intake_reads.FirstReads: a first message's lookups, read together

    def __post_init__(self) -> None:
        self.db = StepDatabase(self.deps.sessions)

    def say(self, template: str, options: tuple[str, ...] = (), **ctx: Any) -> None:
        self.replies.append(Reply(self.text(template, **ctx), options))

    def text(self, template: str, **ctx: Any) -> str:
        return self.deps.texts.render(template, **ctx)


Handler = Callable[[Turn, Draft, Extracted], Awaitable["Draft | None"]]


def merge(draft: Draft, ex: Extracted, *, override: bool) -> None:
    """Fill what the message says; replace what is already known only when the resident corrects it."""
    for name, value in (("description", ex.description), ("location", ex.location), ("name", ex.name),
                        ("phone", ex.phone)):
        if value and (override or not getattr(draft, name)):
            setattr(draft, name, value)
            if name == "location":
                draft.area = ""  # a new place may be in another area
                draft.skip_duplicate = False
                draft.suggested = ""
                draft.candidates = []
    if ex.location and ex.area and not draft.area:
        draft.area = ex.area
    if ex.visit_text and ex.visit_at and (override or not draft.visit_text):
        draft.visit_text, draft.visit_at = ex.visit_text, ex.visit_at.isoformat()
    if ex.name or ex.phone:
        draft.remembered = False


# ---- the slot table: what the intake collects, and how it reads, asks and re-asks each ------------------

@dataclass(frozen=True)
class Question:
    """A template that asks the resident something, its variables, and the buttons shown with it."""

    template: str
    vars: Callable[[Turn, Draft, str], dict[str, Any]] = lambda turn, draft, text: {}  # text: the answer that failed
    options: tuple[str, ...] = ()   # button keys (templates/labels/buttons.toml)


@dataclass(frozen=True)
class Slot:
    """One thing a report needs (BR-2). The table drives asking (`advance`), answers that do not parse and
    corrections (`apply_correction`): a new slot is one row here, not a branch in each of them."""

    name: str
    state: State | None                        # where the conversation waits for it; None: never asked alone
    parse: Callable[[Turn, str], Any]          # the value from the resident's words, or None
    fill: Callable[[Draft, Any], None]
    ask: Question | None                       # asked while it is missing, in table order; None: optional
    reask: Question                            # after an answer or a correction that did not parse
    forget: tuple[str, ...] = ()               # draft fields a correction that did not parse empties
    infer: Callable[[Draft], str | None] | None = None        # tried before asking
    # Tried before asking, with the turn (the estate's unit list); it may fill the slot, or ask (True ends the turn).
    look_up: Callable[[Turn, Draft], Awaitable[bool]] | None = None
    then: Callable[[Turn, Draft], Awaitable[bool]] | None = None  # once it is known; True ends the turn

    def known(self, draft: Draft) -> bool:
        return bool(getattr(draft, self.name))

    @cached_property
    def correction(self) -> re.Pattern[str] | None:
        """"电话改成…": the slot's words (conversations/vocabulary.toml [corrections.slots]), a marker, the value."""
        words = slot_words().get(self.name)
        return correction_pattern(words) if words else None


def _fill(name: str) -> Callable[[Draft, Any], None]:
    return lambda draft, value: setattr(draft, name, value)


def _fill_location(draft: Draft, value: str) -> None:
    draft.location, draft.area, draft.skip_duplicate = value, "", False  # a new place may be in another area
    draft.suggested = ""
    draft.candidates = []


def _fill_visit(draft: Draft, value: tuple[str, datetime]) -> None:
    draft.visit_text, draft.visit_at = value[0], value[1].isoformat()


def _parse_area(turn: Turn, text: str) -> str | None:
    if _UNIT.matches(text):
        return "unit"
    if _PUBLIC.matches(text):
        return "public"
    return None


def _contact_vars(turn: Turn, draft: Draft, text: str) -> dict[str, Any]:
    return dict(need_name=not draft.name, need_phone=not draft.phone, unit=draft.area == "unit",
                invalid_phone=turn.bad_phone if not draft.phone else "")


async def _check_place(turn: Turn, draft: Draft) -> bool:
    """With an estate unit list: the place becomes the list's own (its area too), or the nearest one is offered."""
    from dispatch.units import find_place, place_keys

    if draft.suggested:   # still waiting for 是 / 不是 (a fallback such as 帮助 came in between)
        _ask_suggestion(turn, draft)
        return True
    key = normalize_location(draft.location)
    if draft.place_checked == key:
        return False
    draft.place_checked = key
    if not await _has_units(turn):
        return False   # no list for this property: everything as before (one indexed query per place)
    db, prop = await turn.db.lookup(), turn.deps.property
    found = await find_place(db, prop, key)
    if found is None:
        # A longer listed name the extractor read only part of ("会所二楼棋牌室", where it saw 会所).
        found = await _name_in_message(turn, db, prop)
    if found is not None:
        place, rest = found
        draft.location, draft.area = place.label + rest, place.kind
        draft.place_checked = normalize_location(draft.location)
        return False
    candidates = await place_keys(db, prop, building_of(draft.location))
    room, rest = split_room(key)
    near = nearest(room, candidates)
    if near is None:
        return False   # not like any listed room (小区门口, a shop): kept as the resident said it
    draft.suggested = candidates[near].label + rest
    _ask_suggestion(turn, draft)
    return True


def _ask_suggestion(turn: Turn, draft: Draft) -> None:
    draft.state = Intake.confirming_place.name
    # A bare 「1502」 is not unknown, only short: "is it ...?" rather than "not found".
    turn.say("intake/place_unknown.j2", options=labels("yes", "no"), location=draft.location,
             suggestion=draft.suggested, bare=not building_of(draft.location))


async def _name_in_message(turn: Turn, db: Any, prop: str) -> tuple[Any, str] | None:
    """A listed name (an alias such as 老干部楼1502) anywhere in the message, with the room word right after it."""
    from dispatch.units import name_in

    text_key = normalize_location(turn.msg.text)
    found = await name_in(db, prop, text_key)
    if found is None:
        return None
    place, end = found
    return place, place_word_at(text_key, end)


async def _listed_place(turn: Turn, draft: Draft) -> bool:
    """No place the extractor could read: the estate's unit list may know one in the message, by an alias, or by
    a bare room number that one building has (asked to confirm) or several have (asked which). True: asked."""
    from dispatch.units import rooms_named

    if not turn.msg.text.strip() or not await _has_units(turn):
        return False
    db, prop = await turn.db.lookup(), turn.deps.property
    found = await _name_in_message(turn, db, prop)
    if found is not None:
        place, rest = found
        _fill_location(draft, place.label + rest)
        draft.area = place.kind
        draft.place_checked = normalize_location(draft.location)
        return False
    written = bare_room(turn.msg.text)
    if not written:
        return False
    room, rest = split_room(normalize_location(written))
    rooms = await rooms_named(db, prop, room)
    if len(rooms) == 1:
        draft.location, draft.suggested = written, rooms[0].label + rest
        _ask_suggestion(turn, draft)
        return True
    if len(rooms) > 1:
        draft.state = Intake.locating.name
        draft.candidates = [place.label + rest for place in rooms]
        turn.say("intake/place_which.j2", location=written, candidates=draft.candidates)
        return True
    return False


def _chosen_candidate(draft: Draft, text: str) -> str | None:
    """「2单元」 or 「3栋」 as the answer to "which 1502?": the one candidate it names, if only one."""
    key = normalize_location(text)
    chosen = [c for c in draft.candidates if key and key in normalize_location(c)]
    return chosen[0] if len(chosen) == 1 else None


async def _check_location(turn: Turn, draft: Draft) -> bool:
    return await _check_place(turn, draft) or await _check_duplicate(turn, draft)


async def _check_duplicate(turn: Turn, draft: Draft) -> bool:
    return not draft.skip_duplicate and await _joined_duplicate(turn, draft)


_DESCRIPTION = Question("intake/ask_description.j2", lambda turn, draft, text: dict(has_location=bool(draft.location)))
_CONTACT = Question("intake/ask_contact.j2", _contact_vars)

SLOTS: dict[str, Slot] = {slot.name: slot for slot in (
    Slot("description", Intake.describing,
         parse=lambda turn, text: text if len(text) >= 2 else None, fill=_fill("description"),
         ask=_DESCRIPTION, reask=_DESCRIPTION, forget=("description",)),
    Slot("location", Intake.locating,
         parse=lambda turn, text: parse_location_answer(text) or None, fill=_fill_location,
         ask=Question("intake/ask_location.j2", lambda turn, draft, text: dict(invalid=False)),
         reask=Question("intake/ask_location.j2", lambda turn, draft, text: dict(invalid=True)),
         forget=("location",), look_up=_listed_place, then=_check_location),
    Slot("area", Intake.choosing_area, parse=_parse_area, fill=_fill("area"),
         ask=Question("intake/ask_area.j2", lambda turn, draft, text: dict(location=draft.location),
                      ("public", "unit")),
         reask=Question("intake/ask_area.j2", lambda turn, draft, text: dict(location=draft.location, invalid=True),
                        ("public", "unit")),
         infer=lambda draft: infer_area(draft.location, draft.description)),
    Slot("name", Intake.contact, parse=lambda turn, text: parse_name_answer(text) or None, fill=_fill("name"),
         ask=_CONTACT,
         reask=Question("intake/ask_contact.j2", lambda turn, draft, text: dict(
             need_name=True, need_phone=False, unit=draft.area == "unit", invalid_phone="")),
         forget=("name",)),
    Slot("phone", Intake.contact, parse=lambda turn, text: find_phone(text)[0] or None, fill=_fill("phone"),
         ask=_CONTACT,
         reask=Question("intake/ask_contact.j2", lambda turn, draft, text: dict(
             need_name=False, need_phone=True, unit=draft.area == "unit", invalid_phone=find_phone(text)[1] or text)),
         forget=("phone",)),
    Slot("visit", None, parse=lambda turn, text: parse_visit(text, turn.now.astimezone(turn.deps.texts.tz)),
         fill=_fill_visit, ask=None, reask=Question("intake/visit_unclear.j2")),
)}
# Tried in the vocabulary's order: the first slot whose words fit a message is the one it corrects.
CORRECTIONS = tuple((name, SLOTS[name].correction) for name in slot_words())
REMEMBERED = ("name", "phone")   # a returning resident's contact (`_prefill_contact`)


def ask(turn: Turn, draft: Draft, question: Question, *, prefix: str = "", text: str = "") -> None:
    turn.say(question.template, options=labels(*question.options), prefix=prefix,
             **question.vars(turn, draft, text))


async def advance(turn: Turn, draft: Draft, *, prefix: str = "") -> None:
    """Ask for the first missing slot of the table (BR-2), check duplicates (BR-4), or show the summary."""
    for slot in SLOTS.values():
        if slot.ask is None:
            continue
        if not slot.known(draft) and slot.infer is not None:
            slot.fill(draft, slot.infer(draft) or "")
        if not slot.known(draft) and slot.look_up is not None and await slot.look_up(turn, draft):
            return
        if not slot.known(draft):
            draft.state = slot.state.name
            ask(turn, draft, slot.ask, prefix=prefix)
            return
        if slot.then is not None and await slot.then(turn, draft):
            return
    draft.state = Intake.confirming.name
    cls = classify(draft.description, turn.deps.rules, draft.location)
    turn.say("intake/summary.j2", options=labels(*SUMMARY_OPTIONS), prefix=prefix, d=draft, category=cls.category,
             trade=cls.trade, photos=len(draft.photo_ids), recordings=len(draft.recording_ids))


def take(turn: Turn, draft: Draft, slot: Slot, text: str) -> bool:
    """Read `text` as the slot's value and fill it; False (and the slot's re-ask) when it does not parse."""
    value = slot.parse(turn, text)
    if value is None:
        ask(turn, draft, slot.reask, text=text)
        return False
    slot.fill(draft, value)
    return True


async def _joined_duplicate(turn: Turn, draft: Draft) -> bool:
    from dispatch.tickets import add_watcher, find_duplicate

    trade = classify(draft.description, turn.deps.rules, draft.location).trade
    key = normalize_location(draft.location)
    if draft.duplicate_checked == f"{key}|{trade}":
        return False  # checked on an earlier message of this draft: the place and trade are unchanged
    draft.duplicate_checked = f"{key}|{trade}"
    if turn.reads is not None and turn.reads.duplicate_for == draft.duplicate_checked:
        ticket = turn.reads.duplicate
    else:
        ticket = await find_duplicate(await turn.db.lookup(), key, trade, turn.now, turn.deps.intake.duplicate_window)
    if ticket is None:
        return False
    await add_watcher(await turn.db.session(), ticket, turn.msg.channel, turn.msg.chat, turn.msg.user, turn.now)
    draft.state = Intake.duplicate.name
    draft.duplicate_of = ticket.number
    turn.say("intake/duplicate.j2", options=labels("new_report"), t=ticket)
    return True


# ---- one handler per state: the step table ---------------------------------------------------------

async def on_describing(turn: Turn, draft: Draft, ex: Extracted) -> Draft | None:
    merge(draft, ex, override=False)
    # A draft a photo or a voice note started skipped `start`: a returning resident's contact is taken here.
    await _prefill_contact(turn, draft)
    if not draft.description:
        text = turn.msg.text.strip()
        # An answer to "what is broken?" that only named a place or a phone is not a description.
        if ex.location or ex.phone or ex.name or len(text) < 2:
            await advance(turn, draft)
            return draft
        draft.description = text
    await advance(turn, draft)
    return draft


async def on_locating(turn: Turn, draft: Draft, ex: Extracted) -> Draft | None:
    # Before merging: 「3栋1单元」 naming one of the rooms shown is that room, not the building alone.
    chosen = _chosen_candidate(draft, turn.msg.text) if draft.candidates and not draft.location else None
    if chosen:
        _fill_location(draft, chosen)
    merge(draft, ex, override=False)
    if not draft.location:
        value = SLOTS["location"].parse(turn, turn.msg.text)
        if value is not None:
            _fill_location(draft, value)
        elif await _listed_place(turn, draft):
            return draft
        elif not draft.location:
            ask(turn, draft, SLOTS["location"].reask, text=turn.msg.text)
            return draft
    await advance(turn, draft)
    return draft


async def on_choosing_area(turn: Turn, draft: Draft, ex: Extracted) -> Draft | None:
    if not take(turn, draft, SLOTS["area"], turn.msg.text):
        return draft
    await advance(turn, draft)
    return draft


async def on_contact(turn: Turn, draft: Draft, ex: Extracted) -> Draft | None:
    text = turn.msg.text.strip()
    phone, bad_phone = find_phone(text)
    name = ex.name
    if not name and not draft.name:
        rest = text
        for part in (bad_phone, phone, ex.visit_text):
            rest = rest.replace(part, " ") if part else rest
        rest = _NAME_PREFIX.sub(" ", rest)
        rest = re.sub(r"[\s,，。;；:：、]+", " ", rest).strip()
        # Only an answer that is nothing but a name counts as one.
        name = parse_name_answer(rest) if rest and " " not in rest else None
    merge(draft, ex, override=False)
    draft.phone = phone or draft.phone
    draft.name = draft.name or name or ""
    if bad_phone and not phone:
        turn.say("intake/ask_contact.j2", prefix="", need_name=not draft.name, need_phone=True,
                 unit=draft.area == "unit", invalid_phone=bad_phone)
        return draft
    if not (phone or name or ex.visit_text):
        turn.say("intake/ask_contact.j2", prefix="", need_name=not draft.name, need_phone=not draft.phone,
                 unit=draft.area == "unit", invalid_phone="", unclear=True)
        return draft
    await advance(turn, draft)
    return draft


async def on_confirming(turn: Turn, draft: Draft, ex: Extracted) -> Draft | None:
    text = turn.msg.text.strip()
    if _YES.matches(text):
        return await submit(turn, draft)
    if _NO.match(text):
        turn.say("intake/edit_hint.j2", options=labels(*SUMMARY_OPTIONS))
        return draft
    # Anything else on the summary is read as a correction of what it shows.
    before = draft.to_dict()
    merge(draft, ex, override=True)
    if draft.to_dict() == before:
        turn.say("intake/edit_hint.j2", options=labels(*SUMMARY_OPTIONS), unclear=True)
        return draft
    await advance(turn, draft, prefix=turn.text("intake/updated.j2"))
    return draft


async def on_duplicate(turn: Turn, draft: Draft, ex: Extracted) -> Draft | None:
    if _NEW_REPORT.matches(turn.msg.text):
        draft.skip_duplicate = True
        await advance(turn, draft)
        return draft
    # Anything else starts over: the resident has moved on from the duplicate.
    return await start(turn, ex)


async def on_confirming_place(turn: Turn, draft: Draft, ex: Extracted) -> Draft | None:
    """是 takes the list's nearest place; another place is read as the answer; anything else asks again."""
    text = turn.msg.text.strip()
    if _PLACE_YES.matches(text) or _YES.matches(text):
        _fill_location(draft, draft.suggested)
        await advance(turn, draft)
        return draft
    if ex.location:
        merge(draft, ex, override=True)
        await advance(turn, draft)
        return draft
    draft.location = draft.suggested = ""
    await advance(turn, draft)
    return draft


STEPS: dict[str, Handler] = {
    Intake.describing.name: on_describing,
    Intake.locating.name: on_locating,
    Intake.choosing_area.name: on_choosing_area,
    Intake.contact.name: on_contact,
    Intake.confirming.name: on_confirming,
    Intake.duplicate.name: on_duplicate,
    Intake.confirming_place.name: on_confirming_place,
}


async def start(turn: Turn, ex: Extracted) -> Draft | None:
    """A first message: take everything it already says, then ask only for what is missing."""
    text = turn.msg.text.strip()
    intent_only = bool(_INTENT.match(text))
    # A bare yes/no with nothing to confirm is not a fault description.
    if _YES.matches(text) or _NO.match(text) or not (ex.description or ex.location or ex.phone or intent_only):
        turn.say("intake/welcome.j2")
        return None
    draft = Draft(started_at=turn.now.isoformat())
    if not intent_only:
        merge(draft, ex, override=False)
    await _read_first(turn, draft)
    await _prefill_contact(turn, draft)
    await advance(turn, draft)
    return draft


async def _read_first(turn: Turn, draft: Draft) -> None:
    """The reporter, the unit list's presence and (with a fault and a place) an open duplicate, in one round trip."""
    from dispatch.intake_reads import first_reads

    key = normalize_location(draft.location) if draft.location and draft.description else ""
    trade = classify(draft.description, turn.deps.rules, draft.location).trade if key else ""
    turn.reads = await first_reads(await turn.db.lookup(), platform=turn.msg.channel, external_id=turn.msg.user,
                                   property=turn.deps.property, location_key=key, trade=trade, now=turn.now,
                                   window=turn.deps.intake.duplicate_window)


async def _has_units(turn: Turn) -> bool:
    from dispatch.units import has_units

    if turn.reads is not None:
        return turn.reads.has_units
    return await has_units(await turn.db.lookup(), turn.deps.property)


async def _prefill_contact(turn: Turn, draft: Draft) -> None:
    """A resident who reported before is not asked for name and phone again; the summary shows them."""
    if draft.name and draft.phone:
        return
    from dispatch.people import contact_for

    person = turn.reads.contact if turn.reads is not None else \
        await contact_for(await turn.db.lookup(), turn.msg.channel, turn.msg.user)
    if person and person.role == "resident" and person.phone:
        draft.name = draft.name or person.name
        draft.phone = draft.phone or person.phone
        draft.remembered = True


async def apply_correction(turn: Turn, draft: Draft, slot: str, value: str) -> bool:
    """`电话错了，是…`: parse the value as that slot; False (and its re-ask) when it does not parse."""
    row = SLOTS[slot]
    if not take(turn, draft, row, value):
        if row.state is not None:
            draft.state = row.state.name   # the conversation waits for the slot again
        for name in row.forget:
            setattr(draft, name, "")
        return False
    draft.remembered = draft.remembered and slot not in REMEMBERED
    return True


async def handle_text(turn: Turn, draft: Draft | None) -> Draft | None:
    """One text message in the intake: corrections first, then the current state's handler."""
    text = turn.msg.text.strip()
    ex = extract(text, turn.now.astimezone(turn.deps.texts.tz))
    turn.bad_phone = ex.phone_invalid or "" if not ex.phone else ""
    if draft is None or draft.state is None:
        return await start(turn, ex)
    if draft.state != Intake.duplicate.name:
        correction = parse_correction(text, CORRECTIONS)
        if correction and correction[1]:
            if await apply_correction(turn, draft, *correction):
                await advance(turn, draft, prefix=turn.text("intake/updated.j2"))
            return draft
        if is_override(text) and draft.state != Intake.confirming.name:
            before = draft.to_dict()
            merge(draft, ex, override=True)
            if draft.to_dict() != before:
                await advance(turn, draft, prefix=turn.text("intake/updated.j2"))
                return draft
    handler = STEPS.get(draft.state)
    if handler is None:  # a state from an older release: start over rather than fail
        return await start(turn, ex)
    return await handler(turn, draft, ex)


async def submit(turn: Turn, draft: Draft) -> Draft | None:
    """Create the ticket (dispatch's one domain function) and tell the resident its number."""
    from dispatch.filing import file_report, filing_key

    deps, msg = turn.deps, turn.msg
    new, errors = build_report(
        {"description": draft.description, "location": draft.location, "area": draft.area,
         "name": draft.name, "phone": draft.phone, "visit_text": draft.visit_text},
        deps.rules, channel=turn.msg.channel, reporter_channel=turn.msg.channel, reporter_chat=turn.msg.chat,
        reporter_user=turn.msg.user, photo_ids=tuple(draft.photo_ids), recording_ids=tuple(draft.recording_ids),
        visit_at=datetime.fromisoformat(draft.visit_at) if draft.visit_at else None, property=deps.property,
    )
    if new is None:
        # The step table should make this impossible; if not, ask again rather than lose the report.
        for err in errors:
            setattr(draft, {"reporter_name": "name"}.get(err.field, err.field), "")
        await advance(turn, draft)
        return draft
    # Committed with the rest of the step, by the engine. Keyed on the confirming message: when the state
    # could not be saved after the commit (Redis error, lost lock, a killed worker), the redelivered
    # message finds the ticket it filed and answers with it again, filing nothing twice.
    key = filing_key(msg.channel, msg.chat, msg.user, msg.message_id) if msg.message_id else ""
    # PostgreSQL files in one statement, atomic on its own: the step's AUTOCOMMIT connection spares the BEGIN and
    # COMMIT round trips. Elsewhere the filing takes several statements and the step's transaction.
    db = await turn.db.lookup()
    if db.dialect.name != "postgresql":
        db = await turn.db.session()
    ticket = await file_report(db, new, f"{msg.channel}:{msg.user}", turn.now,
                               channels=set(deps.channels), tz=deps.tz, load_related=False, key=key,
                               warranty_days=deps.policy.warranty_days, policy=deps.policy, duty=deps.duty)
    if ticket.fresh:
        metrics.TICKETS_CREATED.labels(channel=ticket.channel, category=ticket.category).inc()
    turn.say("intake/created.j2", t=ticket, photos=len(draft.photo_ids), recordings=len(draft.recording_ids))
    return None
