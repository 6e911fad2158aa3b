"""After the work is accepted (BR-21): the survey (BR-26) and the follow-up pick (BR-25)."""
from __future__ import annotations

from datetime import datetime

from dispatch.policy import Policy
from dispatch.prompts import ask_resident
from store.models import Ticket


async def after_verified(session, ticket: Ticket, now: datetime, policy: Policy) -> None:
    await ask_resident(session, ticket, "survey", now)
