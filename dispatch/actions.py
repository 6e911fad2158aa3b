"""Ticket actions every platform's button or the REST API calls: accept, transfer, decline."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import aliased, joinedload, raiseload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import audit, escalation, lifecycle, permissions, prefetch, statuses
from dispatch.policy import Policy
from dispatch.routing import refresh_cards, tell_reporter, tell_supervisors
from store.db import dialect_name
from store.models import Person, PersonIdentity, Ticket
# An action reads the ticket's row and its assignee, never its audit trail or photos: not loading them
# saves two queries a press (bench/lifecycle.py); touching them in an action is an error, not a slow query.
WITHOUT_HISTORY = (raiseload(Ticket.events), raiseload(Ticket.photos))
# The ticket, its assignee and the assignee's accounts in one statement instead of three.
WITH_ASSIGNEE = (*WITHOUT_HISTORY, joinedload(Ticket.assignee).joinedload(Person.identities))

ACTOR = aliased(Person)

# Statuses in which the job is over for staff: an action the table refuses there reads "closed".
SETTLED = frozenset({statuses.COMPLETED, statuses.VERIFIED, statuses.CLOSED, statuses.CANCELLED})

@dataclass(frozen=True)
class ActionResult:
    # ok | taken | closed | not_allowed | not_your_trade | unknown_ticket | unknown_person | bad_state | invalid
    # | not_alerted | needs_approver
    outcome: str
    ticket: Ticket | None = None
    holder: str = ""             # who has the job when outcome is `taken`
    detail: str = ""             # invalid: the body's field at fault; bad_state: the action refused


def _record(session: AsyncSession, ticket: Ticket, now: datetime, actor: str, channel: str, action: str, before: str,
            **details) -> None:
    audit.record(session, ticket.id, now, actor, channel, action, before, ticket.status, details)


# What the winning 接单 wrote, returned by its UPDATE.
WON = (Ticket.status, Ticket.assignee_id, Ticket.accepted_at, Ticket.version)


@cache
def _check_statement(prefetching: bool):
    """The ticket (with its assignee) and the person pressing (with their accounts) in one statement, built
    once; on PostgreSQL it brings the ticket's timers, trail and card copies too (dispatch/prefetch.py)."""
    account = select(PersonIdentity.person_id).where(PersonIdentity.platform == bindparam("channel"),
                                                     PersonIdentity.external_id == bindparam("user")).scalar_subquery()
    return (select(Ticket, ACTOR, *(prefetch.COLUMNS if prefetching else ()))
            .where(Ticket.number == bindparam("number")).outerjoin(ACTOR, ACTOR.id == account)
            .options(*WITH_ASSIGNEE, joinedload(ACTOR.identities)))


async def checked(session: AsyncSession, number: str, channel: str, user: str, action: str, *,
                   check_state: bool = True) -> tuple[Ticket | None, Person | None, ActionResult | None]:
    """The ticket and the acting person, or the refusal every action shares: the one place where the
    role × action table (dispatch/permissions.py) is enforced, with the role as the configuration set it,
    and where the transition table (dispatch/lifecycle.py) says whether the action fits the status."""
    prefetching = dialect_name(session) == "postgresql"
    row = (await session.execute(_check_statement(prefetching),
                                 {"number": number, "channel": channel, "user": user})).unique().first()
    if row is None:
        return None, None, ActionResult("unknown_ticket")
    ticket, person = row[0], row[1]
    if prefetching:
        prefetch.keep(session, ticket.id, *row[2:])
    if person is None or not permissions.is_staff(person.role):
        return ticket, None, ActionResult("unknown_person", ticket)
    refused = permissions.refusal(person.role, action, trades=person.trades, ticket_trade=ticket.trade,
                                  is_assignee=ticket.assignee_id == person.id)
    if refused:
        return ticket, person, ActionResult(refused, ticket)
    if check_state and not lifecycle.allowed(action, ticket.status):
        outcome = "closed" if ticket.status in SETTLED and action != "verify" else "bad_state"
        return ticket, person, ActionResult(outcome, ticket, detail=ticket.status)
    return ticket, person, None


async def accept(session: AsyncSession, number: str, channel: str, user: str, now: datetime,
                 reply_token: str = "", policy: Policy | None = None) -> ActionResult:
    """First accept wins: one conditional UPDATE decides, whatever the number of presses at once."""
    # Not checked against the table: of two presses the loser reads `taken`, from the UPDATE below.
    ticket, person, refused = await checked(session, number, channel, user, "accept", check_state=False)
    if refused:
        return refused
    written = (await session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.assignee_id.is_(None),
               Ticket.status.in_((statuses.SUBMITTED, statuses.DISPATCHED)))
        .values(status=statuses.ACCEPTED, assignee_id=person.id, accepted_at=now, version=Ticket.version + 1)
        .returning(*WON).execution_options(synchronize_session=False))).first()
    if written is None:
        await session.refresh(ticket)
        holder = await session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
        if ticket.status in SETTLED:
            return ActionResult("closed", ticket, detail=ticket.status)
        if holder is None:
            return ActionResult("bad_state", ticket, detail=ticket.status)
        return ActionResult("taken", ticket, holder.name)
    for column, value in zip(WON, written):
        set_committed_value(ticket, column.key, value)
    set_committed_value(ticket, "assignee", person)     # loaded with their accounts by `checked`
    _record(session, ticket, now, f"{channel}:{user}", channel, "accepted", statuses.DISPATCHED, assignee=person.name)
    await escalation.sync(session, ticket, now, policy or Policy())   # 接单 stops the respond clock's chain
    await tell_reporter(session, ticket, now, "notify/accepted.j2")
    await refresh_cards(session, ticket, now, clicked=(channel, user), reply_token=reply_token)
    return ActionResult("ok", ticket, person.name)


async def _request(session: AsyncSession, ticket: Ticket, person: Person, action: str, channel: str, user: str,
                   now: datetime, channels: set[str]) -> ActionResult:
    if ticket.assignee_id and ticket.assignee_id != person.id:
        holder = await session.get(Person, ticket.assignee_id)
        return ActionResult("taken", ticket, holder.name if holder else "")
    event = "transfer_requested" if action == "transfer" else "declined"
    _record(session, ticket, now, f"{channel}:{user}", channel, event, ticket.status, by=person.name)
    await tell_supervisors(session, ticket, now, f"notify/{event}.j2", channels, by=person.name)
    return ActionResult("ok", ticket, person.name)


async def act(session: AsyncSession, number: str, action: str, channel: str, user: str, now: datetime,
              body: dict | None = None, *, policy: Policy, reply_token: str = "") -> ActionResult:
    """Every staff action of contract.md's Lifecycle table, from any card, the simulator or the REST API.

    Checked once (`checked`: who, and from which status), then one function of dispatch/job.py; a
    refusal changes nothing.
    """
    from dispatch.job import HANDLERS, Act, Invalid

    body = body if isinstance(body, dict) else {}
    if action == "accept":
        return await accept(session, number, channel, user, now, reply_token=reply_token, policy=policy)
    handler = HANDLERS.get(action)
    if handler is None:
        return ActionResult("not_allowed", detail=action)
    ticket, person, refused = await checked(session, number, channel, user, action)
    if refused:
        return refused
    if action in ("transfer", "decline"):
        if ticket.assignee_id is None:
            # Before anyone holds it: a request to the supervisors, the ticket stays with the trade.
            return await _request(session, ticket, person, action, channel, user, now, set(policy.channels))
        if ticket.assignee_id != person.id and person.role == "technician":
            holder = await session.get(Person, ticket.assignee_id)
            return ActionResult("taken", ticket, holder.name if holder else "")
    try:
        outcome = await handler(Act(session, ticket, person, channel, user, now, policy, reply_token), body)
    except Invalid as e:
        return ActionResult("invalid", ticket, detail=e.field)
    if outcome == "bad_state":
        await session.refresh(ticket)
        closed = ticket.status in SETTLED and action != "verify"
        return ActionResult("closed" if closed else "bad_state", ticket, detail=ticket.status)
    return ActionResult(outcome, ticket, person.name)
