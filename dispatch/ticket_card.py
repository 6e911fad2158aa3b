"""A ticket's dispatch card, built from the ticket as it is now, for technicians or a group chat."""
from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files

from dispatch import statuses
from dispatch.cards import Button, Card
from dispatch.payloads import CardAction
from store.models import Ticket
from templates.texts import Texts, mask_phone

OPEN_FOR_ACCEPT = frozenset({statuses.SUBMITTED, statuses.DISPATCHED})


@cache
def _labels() -> dict[str, str]:
    return tomllib.loads((files("templates") / "cards" / "fields.toml").read_text(encoding="utf-8"))


def ticket_card(ticket: Ticket, audience: str, texts: Texts) -> Card:
    """`technician` sees the resident's phone in full; `group` sees it masked (138****8000)."""
    lab = _labels()
    phone = ticket.phone if audience == "technician" else mask_phone(ticket.phone)
    fields = [
        (lab["location"], ticket.location),
        (lab["area"], texts.label("area", ticket.area)),
        (lab["description"], ticket.description),
        (lab["reporter"], f"{ticket.reporter_name} {phone}"),
        (lab["created"], texts.env.filters["local"](ticket.created_at)),
    ]
    if ticket.visit_text:
        fields.append((lab["visit"], ticket.visit_text))
    if ticket.photos:
        fields.append((lab["photos"], str(len(ticket.photos))))
    open_ = ticket.status in OPEN_FOR_ACCEPT and ticket.assignee_id is None
    buttons: tuple[Button, ...] = ()
    if open_:
        buttons = (
            # The labels are the actions' own (templates/labels/action.toml, contract.md "Lifecycle").
            Button(texts.label("action", "accept"), CardAction("accept", ticket.number).encode(), "primary"),
            Button(texts.label("action", "transfer"), CardAction("transfer", ticket.number).encode()),
            Button(texts.label("action", "decline"), CardAction("decline", ticket.number).encode(), "danger"),
        )
    return Card(
        title=texts.render("cards/title.j2", t=ticket), fields=tuple(fields), buttons=buttons,
        status="" if open_ else texts.render("cards/status.j2", t=ticket),
        emergency=ticket.category == "emergency", key=ticket.number,
    )
