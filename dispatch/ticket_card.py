"""A ticket's card, built from the ticket as it is now: the dispatch card, the assignee's job card, the
status every other copy shows, and the 签免 approver's card."""
from __future__ import annotations

import tomllib
from datetime import datetime
from decimal import Decimal
from typing import Any
from functools import cache
from importlib.resources import files

from dispatch import statuses
from dispatch.clocks import SLA, card_clock
from dispatch.cards import Button, Card
from dispatch.lifecycle import allowed
from dispatch.payloads import CardAction
from store.models import Ticket, photos_of
from templates.texts import Texts, mask_phone, yuan

OPEN_FOR_ACCEPT = frozenset({statuses.SUBMITTED, statuses.DISPATCHED})

# Audiences of a card copy (CardCopy.audience).
TECHNICIAN, GROUP, APPROVER = "technician", "group", "approver"

# What the assignee's job card offers in each status (contract.md "Lifecycle"), in the order shown. Each is
# still checked against the transition table (`allowed`), so the card never offers what the domain refuses.
# quoted offers nothing: the resident answers; rejected offers a new 报价 once the housekeeper has
# negotiated (BR-13); completed and later: the job is out of the technician's hands.
JOB_BUTTONS: dict[str, tuple[str, ...]] = {
    statuses.ACCEPTED: ("arrive", "reschedule", "transfer"),
    statuses.ON_SITE: ("quote", "hold", "complete", "transfer"),
    statuses.QUOTE_ACCEPTED: ("hold", "complete", "transfer"),
    statuses.REWORK: ("arrive", "complete", "transfer"),
    statuses.ON_HOLD: ("resume", "transfer"),
    statuses.REJECTED: ("quote",),
}
STYLES = {"arrive": "primary", "complete": "primary", "resume": "primary", "accept": "primary",
          "waive_approve": "primary", "decline": "danger", "waive_reject": "danger"}
# Marks the assignee's job card for renderers that rewrite a card in full only when its reader still acts on it.
JOB_TAG = "job"


@cache
def _labels() -> dict[str, str]:
    return tomllib.loads((files("templates") / "cards" / "fields.toml").read_text(encoding="utf-8"))


def is_holder(ticket: Ticket, recipient: tuple[str, str] | None) -> bool:
    """Is this copy's reader the ticket's assignee (one of their platform accounts)?"""
    if recipient is None or ticket.assignee is None or not recipient[1]:
        return False
    channel, user = recipient
    return any(i.platform == channel and i.external_id == user for i in ticket.assignee.identities)


def job_actions(ticket: Ticket) -> tuple[str, ...]:
    """The buttons the assignee's job card shows now."""
    out = []
    for action in JOB_BUTTONS.get(ticket.status, ()):
        if not allowed(action, ticket.status):
            continue
        if action == "quote" and (ticket.area != "unit" or ticket.warranty_of):
            continue  # BR-13: only work inside a unit is paid; BR-24: a warranty repair is free
        out.append(action)
    return tuple(out)


def ticket_card(ticket: Ticket, audience: str, texts: Texts, recipient: tuple[str, str] | None = None, *,
                now: datetime | None = None, sla: Any = None) -> Card:
    """The card one copy shows. `recipient` is the copy's reader (channel, user id); "" user for a group.
    With `now` (and the `[sla]` figures) an open card and the job card show the clock that runs out first
    (BR-9, BR-10).

    `technician` sees the resident's phone in full, `group` masked (138****8000). Before 接单 every copy
    offers 接单 / 转派 / 无法处理; after it, the assignee's own copy is the job card with the buttons its
    status allows, and every other copy shows where the job stands. `approver`: the 签免 card (BR-15).
    """
    if audience == APPROVER:
        return _approver_card(ticket, texts)
    open_ = ticket.status in OPEN_FOR_ACCEPT and ticket.assignee_id is None
    holder = audience == TECHNICIAN and not open_ and is_holder(ticket, recipient)
    fields = _fields(ticket, masked=audience != TECHNICIAN, texts=texts)
    # The clock is for whoever must act on it: every reader of an open card (接单 is due), then the holder.
    deadline = _deadline(ticket, texts, now, sla) if now is not None and (open_ or holder) else ""
    if deadline:
        fields.insert(0, (_labels()["deadline"], deadline))
    buttons: tuple[Button, ...] = ()
    tags: tuple[str, ...] = ()
    if open_:
        # The labels are the actions' own (templates/labels/action.toml, contract.md "Lifecycle").
        buttons = tuple(_button(texts, a, ticket.number) for a in ("accept", "transfer", "decline"))
        status = ""
    elif holder:
        buttons = tuple(_button(texts, a, ticket.number) for a in job_actions(ticket))
        status = texts.render("cards/job_status.j2", t=ticket)
        tags = (JOB_TAG,)
    else:
        status = texts.render("cards/status.j2", t=ticket)
    return Card(
        title=texts.render("cards/title.j2", t=ticket), fields=tuple(fields), buttons=buttons, status=status,
        emergency=ticket.category == "emergency", key=ticket.number, tags=tags,
    )


def _deadline(ticket: Ticket, texts: Texts, now: datetime, sla: Any) -> str:
    clock = card_clock(ticket, now, sla if sla is not None else SLA)
    if clock is None:
        return ""
    v = clock.operational
    minutes = int(abs(v.left.total_seconds()) // 60)
    return texts.render("cards/deadline.j2", kind=clock.kind, due=v.due_at, breached=v.breached,
                        paused_for=v.paused_for, minutes=minutes)


def _button(texts: Texts, action: str, number: str) -> Button:
    return Button(texts.label("action", action), CardAction(action, number).encode(), STYLES.get(action, "default"))


def _fields(ticket: Ticket, *, masked: bool, texts: Texts) -> list[tuple[str, str]]:
    lab = _labels()
    phone = mask_phone(ticket.phone) if masked else ticket.phone
    fields = [
        (lab["location"], ticket.location),
        (lab["area"], texts.label("area", ticket.area)),
        (lab["description"], ticket.description),
        (lab["reporter"], f"{ticket.reporter_name} {phone}"),
        (lab["created"], texts.env.filters["local"](ticket.created_at)),
    ]
    if ticket.visit_text:
        fields.append((lab["visit"], ticket.visit_text))
    if ticket.proposed_visit_text and ticket.status == statuses.ACCEPTED:
        fields.append((lab["proposed_visit"], ticket.proposed_visit_text))
    reported = photos_of(ticket, "report")
    if reported:
        fields.append((lab["photos"], str(len(reported))))
    if recordings := photos_of(ticket, "voice"):   # issue 12: what the resident said, to be heard on the ticket page
        fields.append((lab["recordings"], texts.render("cards/recordings.j2", count=len(recordings))))
    if ticket.warranty_of:  # BR-24: the same fault again within the warranty is repaired free
        fields.append((lab["warranty"], texts.render("cards/warranty.j2", number=ticket.warranty_of)))
    if ticket.quote_items:
        fields.append((lab["quote"], _quote(ticket, texts)))
    waiver = ticket.waiver or {}
    if waiver.get("status"):
        fields.append((lab["waiver"], texts.render("cards/waiver.j2", amount=yuan(waiver.get("amount", "0")),
                                                   payer=waiver.get("payer", ""), status=waiver["status"])))
    if ticket.status == statuses.ON_HOLD:
        fields.append((lab["hold"], texts.render("cards/hold.j2", reason=ticket.hold_reason, until=ticket.hold_until)))
    if ticket.materials:
        fields.append((lab["materials"], texts.render("cards/materials.j2", materials=ticket.materials)))
    if ticket.work_minutes:
        fields.append((lab["minutes"], texts.render("cards/minutes.j2", minutes=ticket.work_minutes)))
    if ticket.completion_note:
        fields.append((lab["note"], ticket.completion_note))
    after = len(photos_of(ticket, "after"))
    if after:
        fields.append((lab["after_photos"], str(after)))
    return fields


def _quote(ticket: Ticket, texts: Texts) -> str:
    items = [{"name": i.get("name", ""), "amount": yuan(i.get("amount", "0"))} for i in ticket.quote_items]
    total = ticket.quote if ticket.quote is not None else sum(
        (Decimal(str(i.get("amount", "0"))) for i in ticket.quote_items), Decimal(0))
    return texts.render("cards/quote.j2", items=items, total=yuan(total), status=ticket.quote_status)


def _approver_card(ticket: Ticket, texts: Texts) -> Card:
    """签免 (BR-15): the director (< 500 元) or company leadership (≥ 500 元) approves or rejects."""
    lab = _labels()
    waiver = ticket.waiver or {}
    fields = [
        (lab["location"], ticket.location),
        (lab["description"], ticket.description),
        (lab["amount"], texts.render("cards/amount.j2", amount=yuan(waiver.get("amount", "0")))),
        (lab["payer"], texts.label("payer", waiver.get("payer", ""))),
        (lab["reason"], waiver.get("reason", "")),
    ]
    if waiver.get("requested_by"):
        fields.append((lab["requested"], waiver["requested_by"]))
    if ticket.quote_items:
        fields.append((lab["quote"], _quote(ticket, texts)))
    if ticket.assignee is not None:
        fields.append((lab["assignee"], ticket.assignee.name))
    buttons: tuple[Button, ...] = ()
    if waiver.get("status") == "pending" and allowed("waive_approve", ticket.status):
        buttons = tuple(_button(texts, a, ticket.number) for a in ("waive_approve", "waive_reject"))
    return Card(title=texts.render("cards/approver_title.j2", t=ticket), fields=tuple(fields), buttons=buttons,
                status=texts.render("cards/approver_status.j2", t=ticket), key=f"{ticket.number}:waiver",
                tags=(JOB_TAG,) if buttons else ())
