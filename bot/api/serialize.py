"""A ticket as the REST API shows it (contract.md): ISO 8601 times with offset, photos and recordings as signed
URLs."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.services import Services
from bot.media import photo_url
from dispatch.clocks import clocks_json
from store.models import Ticket, photos_of


def _iso(value: datetime | None, tz) -> str | None:
    return value.astimezone(tz).isoformat() if value else None


def ticket_json(services: Services, t: Ticket, *, with_events: bool = True) -> dict[str, Any]:
    clock = services.clock
    tz = clock.tz
    now = clock.now()
    out: dict[str, Any] = {
        "number": t.number, "status": t.status, "area": t.area, "location": t.location, "building": t.building,
        "reporter_name": t.reporter_name, "phone": t.phone, "description": t.description,
        "category": t.category, "trade": t.trade, "channel": t.channel,
        "photos": [photo_url(services, p.id, now) for p in photos_of(t, "report")],
        "after_photos": [photo_url(services, p.id, now) for p in photos_of(t, "after")],
        "recordings": [photo_url(services, p.id, now) for p in photos_of(t, "voice")],   # the resident's voice notes
        "assignee": {"name": t.assignee.name, "phone": t.assignee.phone} if t.assignee else None,
        "visit_text": t.visit_text or None, "visit_at": _iso(t.visit_at, tz),
        "created_at": _iso(t.created_at, tz), "dispatched_at": _iso(t.dispatched_at, tz),
        "accepted_at": _iso(t.accepted_at, tz), "arrived_at": _iso(t.arrived_at, tz),
        "completed_at": _iso(t.completed_at, tz), "closed_at": _iso(t.closed_at, tz),
        "quote": ({"items": t.quote_items, "total": str(t.quote) if t.quote is not None else None,
                   "status": t.quote_status or None, "note": t.quote_note or None} if t.quote_items else None),
        "fee": str(t.fee) if t.fee is not None else None,
        "waiver": t.waiver or None,
        "materials": t.materials or [], "minutes": t.work_minutes, "completion_note": t.completion_note or None,
        "hold": ({"reason": t.hold_reason, "until": _iso(t.hold_until, tz)} if t.status == "on_hold" else None),
        "proposed_visit": ({"text": t.proposed_visit_text, "at": _iso(t.proposed_visit_at, tz)}
                           if t.proposed_visit_text else None),
        "awaiting": t.awaiting or None,
        "signoff": t.signoff or None, "signoff_due_at": _iso(t.signoff_due_at, tz),
        "verified_at": _iso(t.verified_at, tz),
        "rating": _rating(t),
        "warranty_of": t.warranty_of, "property": t.property,
        "clocks": clocks_json(t, now, services.settings.sla, tz),
    }
    if with_events:
        out["events"] = [
            {"at": _iso(e.at, tz), "actor": e.actor, "channel": e.channel, "action": e.action,
             "from_status": e.from_status or None, "to_status": e.to_status or None, "details": e.details}
            for e in t.events
        ]
    return out


def _rating(t: Ticket) -> dict[str, Any] | None:
    """BR-26: `{"overall", "quality"?, "service"?, "communication"?, "comment"?}` once the survey is answered."""
    if t.rating is None:
        return None
    out: dict[str, Any] = {"overall": t.rating}
    for key in ("quality", "service", "communication", "comment"):
        if (t.survey or {}).get(key) not in (None, ""):
            out[key] = t.survey[key]
    return out
