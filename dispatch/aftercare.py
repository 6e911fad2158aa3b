"""After the work is accepted (BR-21): the survey with its one reminder (BR-26) and the follow-up pick (BR-25)."""
from __future__ import annotations

from datetime import datetime, timedelta

from dispatch.followups import pick
from dispatch.policy import Policy
from dispatch.prompts import ask_resident
from dispatch.timers import schedule
from store.models import Ticket


async def after_verified(session, ticket: Ticket, now: datetime, policy: Policy) -> None:
    """Called once the ticket is `verified` (signed off, auto-accepted or checked by the desk), in the same
    transaction. Called again for the same ticket, it asks, schedules and picks nothing twice."""
    if ticket.survey:
        return
    ticket.survey = {"status": "asked", "asked_at": now.isoformat()}
    ticket.verified_at = ticket.verified_at or now
    await ask_resident(session, ticket, "survey", now)
    # No answer: one reminder, then the survey lapses and the ticket closes (dispatch/timer_kinds.py).
    await schedule(session, ticket, "survey_reminder", now + timedelta(seconds=policy.survey_reminder))
    await schedule(session, ticket, "survey_lapse", now + timedelta(seconds=policy.survey_lapse))
    await pick(session, ticket, now, policy)
