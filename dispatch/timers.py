"""A ticket's timers: what must happen at a time (auto sign-off, the survey's reminder), run once when due."""
from __future__ import annotations

from datetime import datetime

from store.models import Ticket, Timer


async def schedule(session, ticket: Ticket, kind: str, due_at: datetime, **details) -> None:
    """Run `kind` for this ticket at `due_at` (by the injected clock's sweep)."""
    session.add(Timer(ticket_id=ticket.id, kind=kind, due_at=due_at, details=details))
