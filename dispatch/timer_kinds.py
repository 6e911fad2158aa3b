"""What each timer kind does when due (registered with dispatch/timers.py): auto sign-off, survey reminder, lapse.

Each handler re-reads the ticket and does nothing when it has moved on (answered, reworked, closed):
the timer was written when the question was asked, and the resident may have answered since.
"""
from __future__ import annotations

from datetime import datetime

from dispatch import lifecycle, statuses
from dispatch.job import transition
from dispatch.policy import Policy
from dispatch.prompts import ask_resident
from dispatch.resident import auto_signoff
from dispatch.routing import refresh_cards
from dispatch.timers import kind
from store.models import Ticket, Timer

SURVEY_OPEN = ("asked", "reminded")   # survey statuses still waiting for the resident's scores


@kind("signoff_auto")
async def signoff_auto(session, timer: Timer, now: datetime, policy: Policy) -> None:
    """BR-21: no answer to 已修好 / 没修好 within `signoff_wait`: the work counts as accepted."""
    ticket = await session.get(Ticket, timer.ticket_id)
    if ticket is None or ticket.status != statuses.COMPLETED or ticket.signoff:
        return
    if ticket.signoff_due_at is not None and ticket.signoff_due_at > now:
        return   # completed again after a rework: that completion's own timer decides
    await auto_signoff(session, ticket.id, now, policy)


@kind("survey_reminder")
async def survey_reminder(session, timer: Timer, now: datetime, policy: Policy) -> None:
    """BR-26: one reminder when the survey is still unanswered after `survey_reminder`."""
    ticket = await session.get(Ticket, timer.ticket_id)
    if ticket is None or ticket.status != statuses.VERIFIED or not unanswered(ticket):
        return
    if ticket.survey.get("status") != "asked":
        return   # reminded already: once only
    ticket.survey = {**ticket.survey, "status": "reminded", "reminded_at": now.isoformat()}
    await ask_resident(session, ticket, "survey_reminder", now)


@kind("survey_lapse")
async def survey_lapse(session, timer: Timer, now: datetime, policy: Policy) -> None:
    """An unanswered survey is closed after `survey_lapse`: the ticket is closed, its survey "lapsed"."""
    ticket = await session.get(Ticket, timer.ticket_id)
    if ticket is None or not lifecycle.allowed("survey_done", ticket.status) or not unanswered(ticket):
        return
    values = {"survey": {**ticket.survey, "status": "lapsed", "lapsed_at": now.isoformat()}, "closed_at": now}
    if ticket.awaiting == "survey":
        values["awaiting"] = ""
    if await transition(session, ticket, "survey_done", now, "system", "system", values, policy=policy,
                        survey="lapsed"):
        await refresh_cards(session, ticket, now, clicked=None, reply_token="")


def unanswered(ticket: Ticket) -> bool:
    survey = ticket.survey or {}
    return survey.get("status") in SURVEY_OPEN and survey.get("overall") is None
