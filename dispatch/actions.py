"""Ticket actions every platform's button or the REST API calls: dispatch, accept, transfer, decline."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, bindparam, literal, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from dispatch import outbox, permissions, statuses
from dispatch.people import IDENTITIES, PERSONS, person_for
from dispatch.filing import Filed
from store.models import CardCopy, Person, Ticket, TicketEvent, Trade

TRADES = Trade.__table__
NO_TECHNICIAN = "notify/no_technician.j2"

# Platforms a person can be reached on, in the order we prefer for 1:1 cards.
CARD_PLATFORMS = ("wecom", "feishu", "sim")
SETTLED = frozenset({statuses.COMPLETED, statuses.VERIFIED, statuses.CLOSED, statuses.CANCELLED,
                     statuses.REJECTED})

# Built once: building a statement costs more than running it. Who may hear of a new ticket, in one
# round trip: the trade's group chats on every row, and each technician's or supervisor's accounts
# (one row with no person when there is nobody).
_WANTED = select(bindparam("trade", type_=String()).label("key")).subquery("wanted")
_STAFF = (
    select(PERSONS.c.id, PERSONS.c.name, PERSONS.c.role, PERSONS.c.trades, IDENTITIES.c.platform,
           IDENTITIES.c.external_id, IDENTITIES.c.id.label("identity_id"))
    .join(IDENTITIES, IDENTITIES.c.person_id == PERSONS.c.id)
    # Fixed bound values rather than expanding lists (rendered once); platforms are filtered in Python.
    .where(PERSONS.c.role.in_([literal("technician"), literal("supervisor"), literal("manager")]))
    .subquery("staff"))
AUDIENCE = (
    select(TRADES.c.wecom_chat_id, TRADES.c.feishu_chat_id, _STAFF.c.id, _STAFF.c.name, _STAFF.c.role,
           _STAFF.c.trades, _STAFF.c.platform, _STAFF.c.external_id)
    .select_from(_WANTED.outerjoin(TRADES, TRADES.c.key == _WANTED.c.key).outerjoin(_STAFF, true()))
    .order_by(_STAFF.c.id, _STAFF.c.identity_id))


@dataclass(frozen=True)
class ActionResult:
    outcome: str  # ok | taken | closed | not_allowed | not_your_trade | unknown_ticket | unknown_person | bad_state
    ticket: Ticket | None = None
    holder: str = ""             # who has the job when outcome is `taken`


async def supervisors_of(session: AsyncSession, trade: str) -> list[Person]:
    rows = (await session.execute(select(Person).where(Person.role.in_(("supervisor", "manager"))))).scalars()
    return [p for p in rows if not p.trades or trade in p.trades]


def _event(ticket: Ticket, now: datetime, actor: str, channel: str, action: str, before: str,
           **details) -> TicketEvent:
    return TicketEvent(ticket_id=ticket.id, at=now, actor=actor, channel=channel, action=action,
                       from_status=before, to_status=ticket.status, details=details)


@dataclass(frozen=True)
class DispatchPlan:
    """Who a new ticket goes to (BR-8): its trade's group chats and one copy per technician; with
    neither, the trade's supervisors are told instead."""

    groups: tuple[tuple[str, str], ...] = ()                # (channel, chat id)
    technicians: tuple[tuple[str, str, str], ...] = ()      # (channel, user id, name)
    supervisors: tuple[tuple[str, str], ...] = ()           # (channel, user id)

    @property
    def names(self) -> list[str]:
        return [name for _, _, name in self.technicians]

    def __bool__(self) -> bool:
        return bool(self.groups or self.technicians)


async def plan_dispatch(conn: AsyncConnection, trade_key: str, channels: set[str]) -> DispatchPlan:
    """One query, whatever the number of staff (`AUDIENCE`)."""
    rows = (await conn.execute(AUDIENCE, {"trade": trade_key})).all()
    wecom_chat, feishu_chat = (rows[0][0] or "", rows[0][1] or "")  # the trade's chats (none: no trade row)
    groups = tuple((channel, chat) for channel, chat in (("wecom", wecom_chat), ("feishu", feishu_chat))
                   if chat and channel in channels)
    # Feishu group cards carry buttons, so a trade with a Feishu group gets no 1:1 Feishu copies.
    one_to_one = [p for p in CARD_PLATFORMS if p in channels and not (p == "feishu" and feishu_chat)]
    best: dict[int, tuple[int, tuple[str, str, str]]] = {}
    supervisors: dict[int, tuple[str, str]] = {}
    for _, _, pid, name, role, trades, platform, external_id in rows:
        if pid is None or platform not in channels:
            continue
        if role == "technician":
            if trade_key not in (trades or []) or platform not in one_to_one:
                continue
            rank = one_to_one.index(platform)
            if pid not in best or rank < best[pid][0]:
                best[pid] = (rank, (platform, external_id, name))  # one copy, on the preferred platform
        elif not trades or trade_key in trades:
            supervisors.setdefault(pid, (platform, external_id))  # their first account we can reach
    return DispatchPlan(groups, tuple(v for _, v in best.values()), tuple(supervisors.values()))


async def queue_dispatch(conn: AsyncConnection, ticket: Filed, plan: DispatchPlan, now: datetime) -> None:
    """The plan's cards as outbox rows (one statement); with nobody to send to, the supervisors hear."""
    if not plan:
        # Keys as `_tell_supervisors` makes them, so a retried filing never doubles a notice.
        rows = [dict(key=f"{ticket.number}:{NO_TECHNICIAN}:{channel}:{user}:{ticket.version}:", channel=channel,
                     user=user, payload={"template": NO_TECHNICIAN, "ticket": ticket.number, "vars": {}})
                for channel, user in plan.supervisors]
        await outbox.enqueue_many(conn, rows, kind=outbox.TEXT, now=now, ticket_id=ticket.id)
        return
    rows = [dict(key=f"{ticket.number}:dispatch:{channel}:chat:{chat}", channel=channel, chat=chat,
                 payload={"ticket": ticket.number, "audience": "group"}) for channel, chat in plan.groups]
    rows += [dict(key=f"{ticket.number}:dispatch:{channel}:user:{user}", channel=channel, user=user,
                  payload={"ticket": ticket.number, "audience": "technician"}) for channel, user, _ in plan.technicians]
    await outbox.enqueue_many(conn, rows, kind=outbox.CARD, now=now, ticket_id=ticket.id)


async def _tell_supervisors(session: AsyncSession, ticket: Ticket, now: datetime, template: str,
                            channels: set[str], **vars) -> None:
    for person in await supervisors_of(session, ticket.trade):
        for ident in person.identities:
            if ident.platform in channels:
                await outbox.enqueue(session, key=f"{ticket.number}:{template}:{ident.platform}:{ident.external_id}"
                                     f":{ticket.version}:{vars.get('by', '')}", channel=ident.platform, kind=outbox.TEXT,
                                     payload={"template": template, "ticket": ticket.number, "vars": vars},
                                     now=now, user=ident.external_id, ticket_id=ticket.id)
                break


async def _tell_reporter(session: AsyncSession, ticket: Ticket, now: datetime, template: str, **vars) -> None:
    if ticket.reporter_channel and ticket.reporter_user:
        await outbox.enqueue(session, key=f"{ticket.number}:{template}:reporter:{ticket.version}",
                             channel=ticket.reporter_channel, kind=outbox.TEXT,
                             payload={"template": template, "ticket": ticket.number, "vars": vars}, now=now,
                             user=ticket.reporter_user, ticket_id=ticket.id)


async def _refresh_cards(session: AsyncSession, ticket: Ticket, now: datetime, *, clicked: tuple[str, str] | None,
                         reply_token: str) -> None:
    """Every copy of the ticket's card is rewritten from the ticket (the clicked one with its token)."""
    copies = (await session.execute(select(CardCopy).where(CardCopy.ticket_id == ticket.id))).scalars()
    for copy in copies:
        is_clicked = clicked == (copy.channel, copy.recipient_user) and copy.recipient_user
        await outbox.enqueue(session, key=f"{ticket.number}:card_update:{copy.id}:{ticket.version}",
                             channel=copy.channel, kind=outbox.CARD_UPDATE,
                             payload={"copy_id": copy.id, "reply_token": reply_token if is_clicked else ""},
                             now=now, user=copy.recipient_user, chat=copy.recipient_chat, ticket_id=ticket.id)


async def _checked(session: AsyncSession, number: str, channel: str, user: str, action: str
                   ) -> tuple[Ticket | None, Person | None, ActionResult | None]:
    """The ticket and the acting person, or the refusal every action shares: the one place where the
    role × action table (dispatch/permissions.py) is enforced, with the role as the configuration set it."""
    ticket = (await session.execute(select(Ticket).where(Ticket.number == number))).scalar_one_or_none()
    if ticket is None:
        return None, None, ActionResult("unknown_ticket")
    person = await person_for(session, channel, user)
    if person is None or not permissions.is_staff(person.role):
        return ticket, None, ActionResult("unknown_person", ticket)
    refused = permissions.refusal(person.role, action, trades=person.trades, ticket_trade=ticket.trade,
                                  is_assignee=ticket.assignee_id == person.id)
    if refused:
        return ticket, person, ActionResult(refused, ticket)
    if ticket.status in SETTLED:
        return ticket, person, ActionResult("closed", ticket)
    return ticket, person, None


async def accept(session: AsyncSession, number: str, channel: str, user: str, now: datetime,
                 reply_token: str = "") -> ActionResult:
    """First accept wins: one conditional UPDATE decides, whatever the number of presses at once."""
    ticket, person, refused = await _checked(session, number, channel, user, "accept")
    if refused:
        return refused
    won = await session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.assignee_id.is_(None),
               Ticket.status.in_((statuses.SUBMITTED, statuses.DISPATCHED)))
        .values(status=statuses.ACCEPTED, assignee_id=person.id, accepted_at=now, version=Ticket.version + 1)
        .execution_options(synchronize_session=False))
    await session.refresh(ticket)
    if won.rowcount != 1:
        holder = await session.get(Person, ticket.assignee_id) if ticket.assignee_id else None
        if holder is None:
            return ActionResult("bad_state", ticket)
        return ActionResult("taken", ticket, holder.name)
    session.add(_event(ticket, now, f"{channel}:{user}", channel, "accepted", statuses.DISPATCHED,
                       assignee=person.name))
    await session.flush()
    await session.refresh(ticket, ["assignee"])
    await _tell_reporter(session, ticket, now, "notify/accepted.j2")
    await _refresh_cards(session, ticket, now, clicked=(channel, user), reply_token=reply_token)
    return ActionResult("ok", ticket, person.name)


async def pass_on(session: AsyncSession, number: str, action: str, channel: str, user: str, now: datetime,
                  channels: set[str], reply_token: str = "") -> ActionResult:
    """转派 (transfer) or 无法处理 (decline): recorded, and the trade's supervisors are told."""
    ticket, person, refused = await _checked(session, number, channel, user, action)
    if refused:
        return refused
    if ticket.assignee_id and ticket.assignee_id != person.id:
        holder = await session.get(Person, ticket.assignee_id)
        return ActionResult("taken", ticket, holder.name if holder else "")
    event = "transfer_requested" if action == "transfer" else "declined"
    session.add(_event(ticket, now, f"{channel}:{user}", channel, event, ticket.status, by=person.name))
    await _tell_supervisors(session, ticket, now, f"notify/{event}.j2", channels, by=person.name)
    await session.flush()
    return ActionResult("ok", ticket, person.name)
