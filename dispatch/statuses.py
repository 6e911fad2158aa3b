"""Ticket statuses (contract.md) and which of them count as still open."""
from __future__ import annotations

SUBMITTED = "submitted"
DISPATCHED = "dispatched"
ACCEPTED = "accepted"
ON_SITE = "on_site"
QUOTED = "quoted"
QUOTE_ACCEPTED = "quote_accepted"
COMPLETED = "completed"
VERIFIED = "verified"
CLOSED = "closed"
REWORK = "rework"
ON_HOLD = "on_hold"
CANCELLED = "cancelled"
REJECTED = "rejected"

ALL = (SUBMITTED, DISPATCHED, ACCEPTED, ON_SITE, QUOTED, QUOTE_ACCEPTED, COMPLETED, VERIFIED,
       CLOSED, REWORK, ON_HOLD, CANCELLED, REJECTED)
# Open for BR-4's duplicate check: somebody still has to act on it.
OPEN = frozenset({SUBMITTED, DISPATCHED, ACCEPTED, ON_SITE, QUOTED, QUOTE_ACCEPTED, REWORK, ON_HOLD})
AREAS = ("public", "unit")
CATEGORIES = ("emergency", "daily", "planned")
TRADES = ("plumbing", "electrical", "hvac", "elevator", "civil", "doors_windows", "weak_current", "fire", "other")
