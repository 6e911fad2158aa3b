"""An overdue alert's card (dispatch/escalation.py): the ticket, how late it is, 已知晓 and 改派 to each technician."""
from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

from dispatch import statuses
from dispatch.cards import Button, Card
from dispatch.clocks import SLA, ticket_clocks
from dispatch.lifecycle import allowed
from dispatch.payloads import CardAction
from dispatch.ticket_card import _labels
from store.models import Person, Ticket, TicketEvent, Timer
from templates.texts import Texts

MAX_TECHNICIANS = 4   # WeCom's button_interaction card holds 6 buttons: 已知晓 and at most this many 改派


async def alert_card(session, ticket: Ticket, alert_id: int, texts: Texts, now: datetime, sla: Any = None) -> Card:
    """The card as it should look now: buttons while the alert is unanswered and the job still open."""
    timer = await session.get(Timer, alert_id)
    details = timer.details if timer is not None else {}
    events = list((await session.execute(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))).scalars())
    view = SimpleNamespace(created_at=ticket.created_at, category=ticket.category, area=ticket.area,
                           status=ticket.status, visit_at=ticket.visit_at, events=events)
    clock = ticket_clocks(view, now, sla if sla is not None else SLA).get(details.get("clock", ""))
    assignee = await session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
    lab = _labels()
    minutes = max(0, int(-clock.operational.left.total_seconds() // 60)) if clock is not None else 0
    fields = [
        (lab["location"], ticket.location),
        (lab["description"], ticket.description),
        (lab["assignee"], assignee.name if assignee else "—"),
        (lab["overdue"], texts.render("escalation/overdue.j2", clock=details.get("clock", ""), minutes=minutes,
                                      assignee=assignee is not None)),
    ]
    done = clock is None or not clock.running or ticket.status in (statuses.CANCELLED, statuses.CLOSED)
    acked_by = details.get("acked_by", "")
    buttons: tuple[Button, ...] = ()
    if not done and not acked_by:
        buttons = (Button(texts.label("action", "ack"), CardAction("ack", ticket.number, alert=alert_id).encode(),
                          "primary"),)
        if allowed("reassign", ticket.status):
            for person in await _technicians(session, ticket):
                buttons += (Button(f"{texts.label('action', 'reassign')}·{person.name}",
                                   CardAction("reassign", ticket.number, to=person.id).encode()),)
    return Card(title=texts.render("escalation/title.j2", t=ticket, level=details.get("notify", "supervisor"),
                                   again=timer is not None and timer.kind == "escalation_again"),
                fields=tuple(fields), buttons=buttons,
                status=texts.render("escalation/status.j2", acked_by=acked_by, done=done),
                emergency=ticket.category == "emergency", key=f"{ticket.number}:alert:{alert_id}",
                tags=("job",) if buttons else ())


async def _technicians(session, ticket: Ticket) -> list[Person]:
    rows = (await session.execute(select(Person).where(Person.role == "technician").order_by(Person.id))).scalars()
    return [p for p in rows if ticket.trade in (p.trades or []) and p.id != ticket.assignee_id][:MAX_TECHNICIANS]
