"""Would an action be refused right now? Asked before a technician is asked for its input (报价, 暂停…)."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import permissions, statuses
from dispatch.actions import ActionResult
from dispatch.lifecycle import allowed
from dispatch.people import person_for
from dispatch.tickets import get_ticket
from store.models import Person

# Nothing more is done to these (a completed ticket still has its sign-off and 验收 ahead: bad_state there).
ENDED = frozenset({statuses.VERIFIED, statuses.CLOSED, statuses.CANCELLED})


async def precheck(session: AsyncSession, number: str, channel: str, user: str, action: str) -> ActionResult:
    """`ok` with the ticket and the presser's name, or the refusal the domain would give, changing nothing.

    The order is the domain's: the ticket, the person, whose job it is, the role × action table
    (dispatch/permissions.py), then the transition table (dispatch/lifecycle.py). A press that would be
    refused is refused at once, before any question is asked.
    """
    ticket = await get_ticket(session, number)
    if ticket is None:
        return ActionResult("unknown_ticket")
    person = await person_for(session, channel, user)
    if person is None or not permissions.is_staff(person.role):
        return ActionResult("unknown_person", ticket)
    reach = permissions.scope(person.role, action)
    if reach == permissions.ASSIGNEE and ticket.assignee_id and ticket.assignee_id != person.id:
        # Someone else's job: a card from before a 转派, or another technician's copy.
        holder = await session.get(Person, ticket.assignee_id)
        return ActionResult("taken", ticket, holder.name if holder else "")
    refused = permissions.refusal(person.role, action, trades=person.trades, ticket_trade=ticket.trade,
                                  is_assignee=ticket.assignee_id == person.id)
    if refused:
        return ActionResult(refused, ticket)
    if ticket.status in ENDED:
        return ActionResult("closed", ticket)
    if not allowed(action, ticket.status):
        return ActionResult("bad_state", ticket, detail=action)
    if action == "quote" and ticket.area != "unit":  # BR-13: only work inside a unit is paid
        return ActionResult("bad_state", ticket, detail="area")
    return ActionResult("ok", ticket, person.name)
