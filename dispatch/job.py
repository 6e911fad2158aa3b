"""The job after 接单 (BR-10 to BR-21): on site, 改约, quotes, 签免, hold, completion, verification, hand-overs."""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache, lru_cache
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from dispatch import audit, escalation, lifecycle, outbox, statuses
from dispatch.policy import Policy
from dispatch.routing import (
    CARD_PLATFORMS, WITH_ACCOUNTS, card_copies, refresh_cards, staff_with_roles, tell_assignee, tell_person,
    tell_reporter, tell_roles,
    tell_supervisors,
)
from store.models import Person, PersonIdentity, Photo, Ticket

MAX_ITEMS = 20
MAX_AMOUNT = Decimal("100000")
MAX_TEXT = 200
# BR-16: who bears a waived fee — the property company (wear, force majeure) or, exceptionally, the owner.
PAYERS = ("property", "owner")


class Invalid(Exception):
    """A body the action cannot take; `field` names what is wrong (REST: 422 with that field)."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


# ---- the one way a ticket's status changes ----------------------------------------------------------------

async def transition(session: AsyncSession, ticket: Ticket, action: str, now: datetime, actor: str, channel: str,
                     values: dict[str, Any] | None = None, *, policy: Policy | None = None, **details) -> bool:
    """Move `ticket` by `action` of dispatch/lifecycle.py, with `values`, and write its one audit event.

    A conditional UPDATE on the version the caller read decides: of two presses at once (two 完工), one
    moves the ticket and the other gets False and changes nothing.
    """
    before = ticket.status
    if not lifecycle.allowed(action, before):
        return False
    after = lifecycle.target(action, before, ticket.held_from)
    values = values or {}
    # The columns written come back with the UPDATE (RETURNING): no second read of the row.
    keys = tuple(values)
    written = (await session.execute(_move_statement(keys), {
        "ticket_id": ticket.id, "read_version": ticket.version, "before": before, "after": after,
        **{f"new_{key}": value for key, value in values.items()}})).first()
    if written is None:
        # Another press moved it first: read what it wrote (not the events and photos, which no action reads).
        await session.refresh(ticket, [c.key for c in Ticket.__table__.columns])
        return False
    for key, value in zip(("status", "version", *values), written):
        set_committed_value(ticket, key, value)
    audit.record(session, ticket.id, now, actor, channel, EVENT_OF[action], before, after, _jsonable(details))
    # The escalation timers follow the clocks in this same commit: a stop cancels them, a pause moves them.
    await escalation.sync(session, ticket, now, policy or Policy())
    return True


@lru_cache(maxsize=256)
def _move_statement(keys: tuple[str, ...]):
    """`transition`'s conditional UPDATE writing these columns, built once per set of columns."""
    columns = Ticket.__table__.c
    return (update(Ticket).where(Ticket.id == bindparam("ticket_id"), Ticket.version == bindparam("read_version"),
                                 Ticket.status == bindparam("before"))
            .values(status=bindparam("after"), version=Ticket.version + 1,
                    **{key: bindparam(f"new_{key}", type_=columns[key].type) for key in keys})
            .returning(*(getattr(Ticket, key) for key in ("status", "version", *keys)))
            .execution_options(synchronize_session=False))


# The audit trail's word for each action (contract.md: every change is one event).
EVENT_OF = {
    "accept": "accepted", "transfer": "transferred", "transfer_to": "transferred", "decline": "declined", "arrive": "arrived",
    "reschedule": "reschedule_proposed", "quote": "quoted", "hold": "held", "resume": "resumed",
    "complete": "completed", "waive": "waiver_requested", "waive_approve": "waiver_approved",
    "waive_reject": "waiver_rejected", "waiver_settles": "waiver_approved", "ack": "acknowledged",
    "reassign": "reassigned", "verify": "verified", "verify_failed": "verify_failed", "cancel": "cancelled",
    "quote_agree": "quote_agreed", "quote_decline": "quote_declined", "visit_agree": "visit_agreed",
    "visit_decline": "visit_declined", "signoff_fixed": "signed_off", "signoff_not_fixed": "not_fixed",
    "signoff_auto": "signed_off_auto", "survey_done": "survey_done",
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


# ---- reading bodies ----------------------------------------------------------------------------------------

def _text(body: dict, name: str, *, required: bool = False, limit: int = MAX_TEXT) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise Invalid(name)
        return ""
    if not isinstance(value, str) or len(value.strip()) > limit or (required and not value.strip()):
        raise Invalid(name)
    return value.strip()


def _amount(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise Invalid(name)
    try:
        amount = Decimal(str(value).strip()).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise Invalid(name) from None
    if not amount.is_finite() or amount <= 0 or amount > MAX_AMOUNT:
        raise Invalid(name)
    return amount


def _time(value: Any, name: str, policy: Policy) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        t = value
    elif isinstance(value, str):
        try:
            t = datetime.fromisoformat(value.strip())
        except ValueError:
            raise Invalid(name) from None
    else:
        raise Invalid(name)
    return t if t.tzinfo else t.replace(tzinfo=ZoneInfo(policy.tz))


def quote_items(body: dict, policy: Policy, trade: str) -> list[dict[str, str]]:
    """`[{"name", "amount"}]` free items, or `{"key"}` lines of the price list (BR-13), checked."""
    raw = body.get("items")
    if not isinstance(raw, list) or not 0 < len(raw) <= MAX_ITEMS:
        raise Invalid("items")
    items = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise Invalid("items")
        if entry.get("key"):
            price = policy.price(str(entry["key"]))
            if price is None or (price.trade and price.trade != trade):
                raise Invalid("items")
            qty = entry.get("qty", 1)
            if isinstance(qty, bool) or not isinstance(qty, int) or not 0 < qty <= 100:
                raise Invalid("items")
            # To the fen, as a free item's amount, the total and the fee are (a price list may say 80 or 80.5).
            amount = (price.amount * qty).quantize(Decimal("0.01"))
            items.append({"name": price.name, "amount": str(amount), "key": price.key, "qty": qty})
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 40:
            raise Invalid("items")
        items.append({"name": name.strip(), "amount": str(_amount(entry.get("amount"), "items"))})
    return items


def materials_of(body: dict, policy: Policy) -> list[dict[str, Any]]:
    raw = body.get("materials") or []
    if not isinstance(raw, list) or len(raw) > 50:
        raise Invalid("materials")
    out = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise Invalid("materials")
        name = entry.get("name")
        if entry.get("key"):
            material = policy.material(str(entry["key"]))
            if material is None:
                raise Invalid("materials")
            name = material.name
        qty = entry.get("qty", 1)
        if not isinstance(name, str) or not name.strip() or len(name) > 40:
            raise Invalid("materials")
        if isinstance(qty, bool) or not isinstance(qty, (int, float)) or not 0 < qty <= 10000:
            raise Invalid("materials")
        out.append({"name": name.strip(), "qty": qty})
    return out


async def find_person(session: AsyncSession, who: Any) -> Person | None:
    """A member of staff named by name, phone or one of their platform user ids (the body's `to`).

    Only staff are looked at (`ix_persons_role`): a resident who shares a name or phone is never picked.
    """
    if not isinstance(who, str) or not who.strip() or len(who) > 128:
        return None
    rows = (await session.execute(_staff_named(), {"who": who.strip()})).unique().scalars()
    return next(iter(rows), None)


@cache
def _staff_named():
    """`find_person`'s statement, built once (building it cost more than running it)."""
    from dispatch.permissions import ROLES

    who = bindparam("who")
    return (select(Person).where(
        Person.role.in_(ROLES),
        or_(Person.name == who, Person.phone == who, Person.identities.any(PersonIdentity.external_id == who)))
        .order_by(Person.id).options(WITH_ACCOUNTS))


# ---- the actions -------------------------------------------------------------------------------------------
# Each takes the ticket and the acting person `checked` let through (dispatch/actions.py), and returns the
# outcome: "ok", or why nothing changed.

class Act:
    """One action's context: who acts, through which channel, when, with which policy."""

    def __init__(self, session: AsyncSession, ticket: Ticket, person: Person, channel: str, user: str,
                 now: datetime, policy: Policy, reply_token: str) -> None:
        self.session, self.ticket, self.person = session, ticket, person
        self.channel, self.user, self.now, self.policy, self.reply_token = channel, user, now, policy, reply_token
        self.actor = f"{channel}:{user}"

    async def move(self, action: str, values: dict[str, Any] | None = None, **details) -> bool:
        return await transition(self.session, self.ticket, action, self.now, self.actor, self.channel, values,
                                policy=self.policy, by=self.person.name, **details)

    async def cards(self, copies: list | None = None) -> None:
        await refresh_cards(self.session, self.ticket, self.now, clicked=(self.channel, self.user),
                            reply_token=self.reply_token, copies=copies)

    @property
    def channels(self) -> frozenset[str]:
        return self.policy.channels


async def arrive(a: Act, body: dict) -> str:
    """BR-10/12: on site (the clock of in-unit arrival stops here)."""
    # On site: a 改约 proposal nobody answered is moot (the resident let them in).
    stale = {"awaiting": "", "proposed_visit_text": "", "proposed_visit_at": None} if a.ticket.awaiting == "visit" else {}
    if not await a.move("arrive", {"arrived_at": a.now, **stale}):
        return "bad_state"
    await tell_reporter(a.session, a.ticket, a.now, "notify/arrived.j2")
    await a.cards()
    return "ok"


async def reschedule(a: Act, body: dict) -> str:
    """BR-11/12: the technician proposes another time; the resident confirms it (dispatch/resident.py)."""
    from dispatch.prompts import ask_resident

    text = _text(body, "visit_text", required=True, limit=64)
    visit_at = _time(body.get("visit_at"), "visit_at", a.policy)
    # `awaiting` in the same UPDATE as the status: ask_resident below then has nothing left to write.
    if not await a.move("reschedule", {"proposed_visit_text": text, "proposed_visit_at": visit_at,
                                       "awaiting": "visit"}, visit_text=text):
        return "bad_state"
    await ask_resident(a.session, a.ticket, "visit", a.now, visit_text=text)
    await a.cards()
    return "ok"


def quote_refusal(ticket: Ticket) -> str | None:
    """Why this ticket takes no quote whatever the body ("area", "warranty"), or None."""
    if ticket.area != "unit":
        return "area"        # public-area work is the property's own (BR-7)
    if ticket.warranty_of:
        return "warranty"    # BR-24: a warranty repair is free
    return None


async def quote(a: Act, body: dict) -> str:
    """BR-13: items and a total for the resident to agree; nothing is done until they do."""
    from dispatch.prompts import ask_resident

    refused = quote_refusal(a.ticket)
    if refused:
        raise Invalid(refused)
    items = quote_items(body, a.policy, a.ticket.trade)
    note = _text(body, "note")
    total = sum((Decimal(i["amount"]) for i in items), Decimal("0"))
    if not await a.move("quote", {"quote_items": items, "quote": total, "quote_status": "pending",
                                  "quote_note": note, "fee": total, "awaiting": "quote"}, items=items, total=total):
        return "bad_state"
    await ask_resident(a.session, a.ticket, "quote", a.now, total=str(total))
    await a.cards()
    return "ok"


async def hold(a: Act, body: dict) -> str:
    """BR-18: parts, a vendor or skill stop the work; the resident hears the expected finish, the supervisor hears."""
    reason = _text(body, "reason", required=True)
    until = _time(body.get("until"), "until", a.policy)
    if until is not None and until <= a.now:
        raise Invalid("until")
    before = a.ticket.status
    if not await a.move("hold", {"hold_reason": reason, "hold_until": until, "held_from": before},
                        reason=reason, until=until):
        return "bad_state"
    from dispatch.prompts import ask_resident

    await ask_resident(a.session, a.ticket, "hold", a.now, reason=reason, until=until)
    await tell_supervisors(a.session, a.ticket, a.now, "notify/held.j2", set(a.channels), by=a.person.name)
    await a.cards()
    return "ok"


async def resume(a: Act, body: dict) -> str:
    if not await a.move("resume", {"hold_reason": "", "hold_until": None, "held_from": ""}):
        return "bad_state"
    await tell_reporter(a.session, a.ticket, a.now, "notify/resumed.j2")
    await a.cards()
    return "ok"


async def complete(a: Act, body: dict) -> str:
    """BR-17: materials, time and after-photos recorded; a unit resident signs off (BR-21), or no answer in
    24 h counts as accepted; public-area work waits for the duty desk's verification."""
    from dispatch.prompts import ask_resident
    from dispatch.timers import schedule

    materials = materials_of(body, a.policy)
    minutes = body.get("minutes")
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= 10000):
        raise Invalid("minutes")
    note = _text(body, "note", limit=500)
    photo_ids = body.get("photo_ids") or []
    if not isinstance(photo_ids, list) or len(photo_ids) > 9 or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in photo_ids):
        raise Invalid("photo_ids")
    unit = a.ticket.area == "unit"
    due = a.now + timedelta(seconds=a.policy.signoff_wait) if unit else None
    if not await a.move("complete", {"completed_at": a.now, "materials": materials, "work_minutes": minutes,
                                     "completion_note": note, "signoff": "", "signoff_due_at": due,
                                     **({"awaiting": "signoff"} if unit else {})},
                        materials=materials, minutes=minutes, note=note, photos=len(photo_ids)):
        return "bad_state"
    if photo_ids:
        # Only photos nobody has linked yet: a technician cannot pull in another ticket's pictures (nor
        # a resident's voice note waiting for its report).
        await a.session.execute(update(Photo).where(Photo.id.in_(photo_ids), Photo.ticket_id.is_(None),
                                                    Photo.kind != "voice")
                                .values(ticket_id=a.ticket.id, kind="after").execution_options(synchronize_session=False))
    if unit:
        await ask_resident(a.session, a.ticket, "signoff", a.now)
        await schedule(a.session, a.ticket, "signoff_auto", due)
    else:
        await tell_reporter(a.session, a.ticket, a.now, "notify/completed_public.j2")
    await a.cards()
    return "ok"


async def waive(a: Act, body: dict) -> str:
    """BR-15/16: ask for a fee waiver (签免) — the director approves under 500 元, leadership from 500 元."""
    t = a.ticket
    if t.waiver.get("status") == "pending":
        raise Invalid("waiver")
    amount = _amount(body["amount"], "amount") if body.get("amount") not in (None, "") else t.quote
    if not amount:
        raise Invalid("amount")
    payer = _text(body, "payer", limit=32) or "property"
    if payer not in PAYERS:
        raise Invalid("payer")
    reason = _text(body, "reason", required=True)
    approver = a.policy.waiver_approver(Decimal(amount))
    waiver = {"status": "pending", "amount": str(amount), "payer": payer, "reason": reason, "approver": approver,
              "requested_by": a.person.name, "requested_by_id": a.person.id, "requested_at": a.now.isoformat()}
    if not await a.move("waive", {"waiver": waiver}, **waiver):
        return "bad_state"
    sent = 0
    for person in await staff_with_roles(a.session, (approver,)):
        sent += await _approver_card(a, person)
    if not sent:
        await tell_supervisors(a.session, t, a.now, "notify/no_approver.j2", set(a.channels), by=a.person.name)
    await a.cards()
    return "ok"


async def _approver_card(a: Act, person: Person) -> bool:
    """The 批准 / 驳回 card, to the approver's 1:1 chat on the first platform we can reach them on."""
    order = {p: i for i, p in enumerate(CARD_PLATFORMS)}
    for ident in sorted(person.identities, key=lambda i: order.get(i.platform, len(order))):
        if ident.platform in a.channels and ident.platform in order:
            await outbox.enqueue(a.session, key=f"{a.ticket.number}:approver:{ident.platform}:{ident.external_id}"
                                 f":{a.ticket.version}", channel=ident.platform, kind=outbox.CARD,
                                 payload={"ticket": a.ticket.number, "audience": "approver"}, now=a.now,
                                 user=ident.external_id, ticket_id=a.ticket.id)
            return True
    return await tell_person(a.session, a.ticket, person, a.now, "notify/waiver_requested.j2", a.channels)


async def _decide_waiver(a: Act, body: dict, approve: bool) -> str:
    t = a.ticket
    waiver = dict(t.waiver or {})
    if waiver.get("status") != "pending":
        raise Invalid("waiver")
    if a.person.role != waiver.get("approver"):
        return "not_allowed"     # BR-15: the amount decides who approves
    note = _text(body, "note")
    waiver.update(status="approved" if approve else "rejected", decided_by=a.person.name,
                  decided_at=a.now.isoformat(), note=note)
    values: dict[str, Any] = {"waiver": waiver}
    if approve:
        values["fee"] = Decimal("0")
    if approve and lifecycle.allowed("waiver_settles", t.status):
        # Nothing left for the resident to pay or agree: the work may go ahead (BR-13).
        values.update(quote_status="waived", awaiting="" if t.awaiting == "quote" else t.awaiting)
        moved = await a.move("waiver_settles", values, **waiver)
    else:
        moved = await a.move("waive_approve" if approve else "waive_reject", values, **waiver)
    if not moved:
        return "bad_state"
    template = "notify/waiver_approved.j2" if approve else "notify/waiver_rejected.j2"
    requester = await a.session.get(Person, waiver["requested_by_id"]) if waiver.get("requested_by_id") else None
    if requester is not None:
        await tell_person(a.session, t, requester, a.now, template, a.channels, by=a.person.name)
    if t.assignee_id and (requester is None or requester.id != t.assignee_id):
        await tell_assignee(a.session, t, a.now, template, a.channels, by=a.person.name)
    if approve:
        await tell_reporter(a.session, t, a.now, "notify/waiver_approved_resident.j2")
    await a.cards()
    return "ok"


async def waive_approve(a: Act, body: dict) -> str:
    return await _decide_waiver(a, body, True)


async def waive_reject(a: Act, body: dict) -> str:
    return await _decide_waiver(a, body, False)


async def _hand_to(a: Act, action: str, to: Person) -> str:
    """The ticket now belongs to `to` (改派 by a supervisor, or 转派 to a named colleague)."""
    t = a.ticket
    if to.role != "technician" or (t.trade not in (to.trades or []) and action == "transfer"):
        raise Invalid("to")
    if to.id == t.assignee_id:
        raise Invalid("to")
    previous = t.assignee.name if t.assignee else ""
    if not await a.move("transfer_to" if action == "transfer" else action, {"assignee_id": to.id, "accepted_at": a.now, "held_from": "", "hold_reason": "",
                                 "hold_until": None}, to=to.name, previous=previous):
        return "bad_state"
    set_committed_value(t, "assignee", to)      # the row just written names `to`, loaded with their accounts
    copies = await card_copies(a.session, t)
    await _card_for(a, to, {(channel, user) for _, channel, user, _ in copies})
    await tell_reporter(a.session, t, a.now, "notify/accepted.j2")
    await a.cards(copies)
    return "ok"


async def _card_for(a: Act, person: Person, copies: set[tuple[str, str]]) -> None:
    """The new holder gets the job card in their 1:1 chat unless they already have a copy of it."""
    order = {p: i for i, p in enumerate(CARD_PLATFORMS)}
    for ident in sorted(person.identities, key=lambda i: order.get(i.platform, len(order))):
        if ident.platform in a.channels and ident.platform in order:
            if (ident.platform, ident.external_id) not in copies:
                await outbox.enqueue(a.session, key=f"{a.ticket.number}:dispatch:{ident.platform}:user:"
                                     f"{ident.external_id}:{a.ticket.version}", channel=ident.platform,
                                     kind=outbox.CARD, payload={"ticket": a.ticket.number, "audience": "technician"},
                                     now=a.now, user=ident.external_id, ticket_id=a.ticket.id)
            return


async def transfer(a: Act, body: dict) -> str:
    """转派: to a named colleague of the trade, or back to the whole trade (every card offers 接单 again)."""
    if body.get("to") not in (None, ""):
        to = await find_person(a.session, body.get("to"))
        if to is None:
            raise Invalid("to")
        return await _hand_to(a, "transfer", to)
    if not await a.move("transfer", {"assignee_id": None, "accepted_at": None, "held_from": "", "hold_reason": "",
                                     "hold_until": None}):
        return "bad_state"
    await tell_supervisors(a.session, a.ticket, a.now, "notify/transferred.j2", set(a.channels), by=a.person.name)
    await a.cards()
    return "ok"


async def reassign(a: Act, body: dict) -> str:
    """改派 (supervisor and above): the job goes to the named technician (`to`), or the one an alert card's
    button names (`to_id`)."""
    to_id = body.get("to_id")
    if to_id is not None and not isinstance(to_id, bool) and isinstance(to_id, int):
        to = await a.session.get(Person, to_id, options=[WITH_ACCOUNTS])
        to = to if to is not None and to.role not in ("resident", "former") else None
    else:
        to = await find_person(a.session, body.get("to"))
    if to is None:
        raise Invalid("to")
    return await _hand_to(a, "reassign", to)


async def decline(a: Act, body: dict) -> str:
    """无法处理 by the holder: the ticket goes back to the trade and the supervisors hear why."""
    reason = _text(body, "reason")
    if not await a.move("decline", {"assignee_id": None, "accepted_at": None}, reason=reason):
        return "bad_state"
    await tell_supervisors(a.session, a.ticket, a.now, "notify/declined.j2", set(a.channels), by=a.person.name)
    await a.cards()
    return "ok"


async def verify(a: Act, body: dict) -> str:
    """BR-21: the duty desk checks public-area work the same day; failed work goes back for rework."""
    from dispatch.aftercare import after_verified, asking

    passed = body.get("passed", True)
    if not isinstance(passed, bool):
        raise Invalid("passed")
    note = _text(body, "note")
    if not passed:
        if not await a.move("verify_failed", {"signoff": "not_fixed", "signoff_due_at": None}, note=note):
            return "bad_state"
        await tell_assignee(a.session, a.ticket, a.now, "notify/rework.j2", a.channels, note=note)
        await tell_supervisors(a.session, a.ticket, a.now, "notify/rework_supervisor.j2", set(a.channels),
                               by=a.person.name)
        await a.cards()
        return "ok"
    survey = asking(a.ticket, a.now)      # BR-26: asked by the same UPDATE
    if not await a.move("verify", {"signoff": "verified", "verified_at": a.now, "signoff_due_at": None,
                                   "awaiting": "", **survey}, note=note):
        return "bad_state"
    await after_verified(a.session, a.ticket, a.now, a.policy, asked=bool(survey))
    await a.cards()
    return "ok"


async def cancel(a: Act, body: dict) -> str:
    reason = _text(body, "reason", required=True)
    if not await a.move("cancel", {"closed_at": a.now, "awaiting": ""}, reason=reason):
        return "bad_state"
    await tell_reporter(a.session, a.ticket, a.now, "notify/cancelled.j2", reason=reason)
    await a.cards()
    return "ok"


async def ack(a: Act, body: dict) -> str:
    """已知晓 answers an overdue alert (`body.alert`, the card's alert id): only someone it went to; that level's
    chain stops and re-escalates after `[sla] reescalate_after` if the work is still not done
    (dispatch/escalation.py). Without such an alert there is nothing to acknowledge."""
    outcome = await escalation.acknowledge(a.session, a.ticket, a.person, body.get("alert"), a.now, a.policy)
    if outcome != "ok":
        return "ok" if outcome == "answered" else outcome
    if not await a.move("ack", None, alert=body.get("alert")):
        return "bad_state"
    return "ok"


HANDLERS = {
    "arrive": arrive, "reschedule": reschedule, "quote": quote, "hold": hold, "resume": resume,
    "complete": complete, "waive": waive, "waive_approve": waive_approve, "waive_reject": waive_reject,
    "transfer": transfer, "reassign": reassign, "decline": decline, "verify": verify, "cancel": cancel, "ack": ack,
}
