"""Would an action be refused right now? Asked before a technician is asked for its input (报价, 暂停…)."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.actions import ActionResult, checked
from dispatch.job import quote_refusal


async def precheck(session: AsyncSession, number: str, channel: str, user: str, action: str) -> ActionResult:
    """`ok` with the ticket and the presser's name, or the refusal `act` would give now, changing nothing.

    The checks are act's own (dispatch/actions.py `checked`: the ticket, the person, the role × action
    table, the transition table), then what the action itself refuses before reading its body (a quote
    for public-area or warranty work, BR-13/BR-24). A press that would be refused is refused at once,
    before any question is asked.
    """
    ticket, person, refused = await checked(session, number, channel, user, action)
    if refused:
        return refused
    why = quote_refusal(ticket) if action == "quote" else None
    if why:
        return ActionResult("invalid", ticket, detail=why)
    return ActionResult("ok", ticket, person.name)
