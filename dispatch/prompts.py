"""What a resident is asked after 接单 (a quote, a new visit time, sign-off, the survey) and how to answer."""
from __future__ import annotations

from datetime import datetime

from dispatch import outbox
from store.models import Ticket

# kind → the ticket's `awaiting` while unanswered ("" once the question needs no answer)
AWAITING = {"quote": "quote", "visit": "visit", "signoff": "signoff", "survey": "survey",
            "survey_reminder": "survey"}


async def ask_resident(session, ticket: Ticket, kind: str, now: datetime, **vars) -> None:
    """Mark what the resident must answer and queue the question (templates/resident/<kind>.j2)."""
    ticket.awaiting = AWAITING[kind]
    if ticket.reporter_channel and ticket.reporter_user:
        await outbox.enqueue(session, key=f"{ticket.number}:ask:{kind}:{ticket.version}",
                             channel=ticket.reporter_channel, kind=outbox.TEXT,
                             payload={"template": f"resident/{kind}.j2", "ticket": ticket.number, "vars": vars},
                             now=now, user=ticket.reporter_user, ticket_id=ticket.id)
