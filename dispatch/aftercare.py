"""After the work is accepted (BR-21): the survey with its one reminder (BR-26) and the follow-up pick (BR-25)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dispatch.followups import pick
from dispatch.policy import Policy
from dispatch.prompts import ask_resident
from dispatch.timers import schedule_many
from store.models import Ticket


def asking(ticket: Ticket, now: datetime) -> dict[str, Any]:
    """The columns that ask the survey, for the verifying UPDATE to write with the status; {} once asked."""
    if ticket.survey:
        return {}
    return {"survey": {"status": "asked", "asked_at": now.isoformat()}, "awaiting": "survey"}


async def after_verified(session, ticket: Ticket, now: datetime, policy: Policy, *, asked: bool) -> None:
    """Called once the ticket is `verified` (signed off, auto-accepted or checked by the desk), in the same
    transaction, by the transition that wrote `asking`'s columns (`asked`): a ticket verified again, or one
    whose survey was asked before, is asked, scheduled and picked nothing twice."""
    if not asked:
        return
    await ask_resident(session, ticket, "survey", now)
    # No answer: one reminder, then the survey lapses and the ticket closes (dispatch/timer_kinds.py).
    await schedule_many(session, ticket, [("survey_reminder", now + timedelta(seconds=policy.survey_reminder)),
                                          ("survey_lapse", now + timedelta(seconds=policy.survey_lapse))])
    await pick(session, ticket, now, policy, known_new=True)
