"""Overdue as one SQL condition: a ticket whose clock of the rule (BR-9, BR-10) has run out and still runs."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, false, or_

from dispatch.clocks import ARRIVED, DONE, KINDS, RESPONDING, SLA, limit_of
from dispatch.statuses import ALL, AREAS, CATEGORIES
from store.models import Ticket


def overdue_clause(now: datetime, sla: Any = None):
    """Tickets with a running clock past its due time at `now`, counted as the regulatory view counts it (from
    the report, never paused: dispatch/clocks.py). The operational view, which pauses while the resident or a
    part is awaited, runs out later or not at all, so every ticket it shows overdue is among these; the ticket
    page shows both. Written from the same `limit_of` table as the clocks, so both agree on what applies."""
    sla = sla if sla is not None else SLA
    clauses = []
    for category in CATEGORIES:
        for area in AREAS:
            for kind in KINDS:
                limit = limit_of(kind, category, area, sla)
                if not limit:
                    continue
                clauses.append(and_(Ticket.category == category, Ticket.area == area, _running(kind),
                                    Ticket.created_at < now - timedelta(seconds=limit)))
    if not clauses:
        return false()
    # Every clock stops when the work is done or called off: said once up front, so the statuses' index
    # (status, created_at) narrows a million tickets to the open ones before the clauses are tried.
    return and_(Ticket.status.in_([s for s in ALL if s not in DONE]), or_(*clauses))


def _running(kind: str):
    """dispatch.clocks._running as a condition on the ticket's row (its status, and whether anyone arrived)."""
    if kind == "respond":
        return Ticket.status.in_(sorted(RESPONDING))
    if kind == "arrive":
        return and_(Ticket.arrived_at.is_(None), Ticket.status.not_in(sorted(ARRIVED | DONE)))
    return Ticket.status.not_in(sorted(DONE))
