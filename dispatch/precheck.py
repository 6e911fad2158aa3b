"""Would an action be refused right now? Asked before a technician is asked for its input (报价, 暂停…)."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import permissions
from dispatch.actions import SETTLED, ActionResult
from dispatch.lifecycle import allowed
from dispatch.people import person_for
from dispatch.tickets import get_ticket


async def precheck(session: AsyncSession, number: str, channel: str, user: str, action: str) -> ActionResult:
    """`ok` with the ticket and the presser's name, or the refusal `act` would give now, changing nothing.

    The checks are act's own, in its order (dispatch/actions.py `_checked`): the ticket, the person, the role
    × action table (dispatch/permissions.py), the transition table (dispatch/lifecycle.py), then what the
    action itself refuses before reading its body (a quote for public-area or warranty work, BR-13/BR-24).
    A press that would be refused is refused at once, before any question is asked.
    """
    ticket = await get_ticket(session, number)
    if ticket is None:
        return ActionResult("unknown_ticket")
    person = await person_for(session, channel, user)
    if person is None or not permissions.is_staff(person.role):
        return ActionResult("unknown_person", ticket)
    refused = permissions.refusal(person.role, action, trades=person.trades, ticket_trade=ticket.trade,
                                  is_assignee=ticket.assignee_id == person.id)
    if refused:
        return ActionResult(refused, ticket)
    if not allowed(action, ticket.status):
        outcome = "closed" if ticket.status in SETTLED and action != "verify" else "bad_state"
        return ActionResult(outcome, ticket, detail=ticket.status)
    if action == "quote" and ticket.area != "unit":
        return ActionResult("invalid", ticket, detail="area")
    if action == "quote" and ticket.warranty_of:
        return ActionResult("invalid", ticket, detail="warranty")
    return ActionResult("ok", ticket, person.name)
