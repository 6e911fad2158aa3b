"""What a resident is asked after 接单 (a quote, a new visit time, sign-off, the survey) and the answers
offered; and what they are only told (a hold's expected finish, BR-18)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from dispatch import outbox
from store.models import Ticket
from templates.words import buttons, labels

# kind → the ticket's `awaiting` while unanswered (None: nothing to answer, `awaiting` is left as it is).
# conversations/answers.py reads the answer of the resident's latest ticket that awaits it.
AWAITING: dict[str, str | None] = {"quote": "quote", "visit": "visit", "signoff": "signoff", "survey": "survey",
                                   "survey_reminder": "survey", "hold": None}
# BR-26: one overall score, best first; three (quality, service, communication) are typed, e.g. 「5 4 5」.
SCORES = buttons()["score"].words


def options_of(kind: str) -> tuple[str, ...]:
    """The answers shown with a question (contract.md "Lifecycle": the words a resident types or presses)."""
    if kind in ("quote", "visit"):
        return labels("agree", "disagree")
    if kind == "signoff":
        return labels("fixed", "not_fixed")
    if kind in ("survey", "survey_reminder"):
        return SCORES
    return ()


async def ask_resident(session, ticket: Ticket, kind: str, now: datetime, **vars: Any) -> None:
    """Mark what the resident must answer (`ticket.awaiting`) and queue the question, with its answers as
    options (buttons or a menu where the platform has them), to the reporter (templates/resident/<kind>.j2).

    A ticket entered by staff for a caller (代录) has no chat to ask in: it still awaits the answer, and the
    desk phones. Keyed on the ticket's version: a retried action never asks twice.
    """
    if kind not in AWAITING:
        raise ValueError(f"unknown question {kind!r}")
    asks = AWAITING[kind]
    if asks is not None:
        ticket.awaiting = asks
    if kind == "signoff":
        vars.setdefault("hours", _hours_left(ticket, now))
    if not (ticket.reporter_channel and ticket.reporter_user):
        return
    payload: dict[str, Any] = {"template": f"resident/{kind}.j2", "ticket": ticket.number, "vars": _plain(vars)}
    options = options_of(kind)
    if options:
        payload["options"] = list(options)
    await outbox.enqueue(session, key=f"{ticket.number}:ask:{kind}:{ticket.version}",
                         channel=ticket.reporter_channel, kind=outbox.TEXT, payload=payload,
                         now=now, user=ticket.reporter_user, ticket_id=ticket.id)


def _hours_left(ticket: Ticket, now: datetime) -> int:
    """BR-21: how long the resident has before no answer counts as 已修好 (24 h unless the caller set a due time)."""
    if ticket.signoff_due_at is None:
        return 24
    return max(1, round((ticket.signoff_due_at - now).total_seconds() / 3600))


def _plain(value: Any) -> Any:
    """A template's variables as JSON the outbox row can hold: amounts and times as strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value
