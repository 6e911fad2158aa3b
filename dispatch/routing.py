"""Who hears of a ticket (BR-8): the trade's groups and technicians, its supervisors, its reporter, every card copy."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import joinedload

from dispatch import outbox, prefetch
from dispatch.calendar_days import computed_day
from dispatch.duty import Duty
from dispatch.statements import AUDIENCE, DESK_ON_DUTY
from store.models import CardCopy, Person, Ticket

NO_TECHNICIAN = "notify/no_technician.j2"
DESK_NOTICE = "notify/desk_new.j2"

# Platforms a person can be reached on, in the order we prefer for 1:1 cards.
CARD_PLATFORMS = ("wecom", "feishu", "sim")
# Staff with their accounts in one statement (a press tells them at once; a second query per role costs more).
WITH_ACCOUNTS = joinedload(Person.identities)
STAFF_OF_ROLES = (select(Person).where(Person.role.in_(bindparam("roles", expanding=True))).order_by(Person.id)
                  .options(WITH_ACCOUNTS))


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
    return plan_of((await conn.execute(AUDIENCE, {"trade": trade_key})).all(), trade_key, channels)


def plan_of(rows, trade_key: str, channels: set[str]) -> DispatchPlan:
    """The plan from `AUDIENCE`'s rows (their first eight columns)."""
    wecom_chat, feishu_chat = (rows[0][0] or "", rows[0][1] or "")  # the trade's chats (none: no trade row)
    groups = tuple((channel, chat) for channel, chat in (("wecom", wecom_chat), ("feishu", feishu_chat))
                   if chat and channel in channels)
    # Feishu group cards carry buttons, so a trade with a Feishu group gets no 1:1 Feishu copies.
    one_to_one = [p for p in CARD_PLATFORMS if p in channels and not (p == "feishu" and feishu_chat)]
    best: dict[int, tuple[int, tuple[str, str, str]]] = {}
    supervisors: dict[int, tuple[str, str]] = {}
    for _, _, pid, name, role, trades, platform, external_id, *_ in rows:
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


def dispatch_messages(number: str, plan: DispatchPlan) -> list[tuple[str, dict]]:
    """The plan's cards as (outbox kind, row); with nobody to send to, the supervisors' notice instead."""
    if not plan:
        # Keys as `tell_supervisors` makes them, so a retried filing never doubles a notice.
        return [(outbox.TEXT, dict(key=f"{number}:{NO_TECHNICIAN}:{channel}:{user}:1:", channel=channel, user=user,
                                   payload={"template": NO_TECHNICIAN, "ticket": number, "vars": {}}))
                for channel, user in plan.supervisors]
    rows = [dict(key=f"{number}:dispatch:{channel}:chat:{chat}", channel=channel, chat=chat,
                 payload={"ticket": number, "audience": "group"}) for channel, chat in plan.groups]
    rows += [dict(key=f"{number}:dispatch:{channel}:user:{user}", channel=channel, user=user,
                  payload={"ticket": number, "audience": "technician"}) for channel, user, _ in plan.technicians]
    return [(outbox.CARD, row) for row in rows]


def desk_params(duty: Duty, now: datetime) -> dict:
    """`DESK_ON_DUTY`'s parameters now: the property, night or day, and the day's kind as seeding would store it."""
    local = now.astimezone(ZoneInfo(duty.tz))
    day = local.date()
    return {"property": duty.property, "night": not duty.day_start <= local.time() < duty.day_end, "day": day,
            "computed": computed_day(day).kind}


async def desk_reach(conn: AsyncConnection, duty: Duty, now: datetime,
                     channels: set[str] | frozenset[str]) -> list[tuple[str, str]]:
    """BR-3: who holds the desk now (one query, `DESK_ON_DUTY`), each on their first reachable account."""
    return reach_of((await conn.execute(DESK_ON_DUTY, desk_params(duty, now))).all(), channels)


def reach_of(rows, channels: set[str] | frozenset[str]) -> list[tuple[str, str]]:
    """(channel, user) of each person in `DESK_ON_DUTY`'s rows, on their first account we can reach."""
    order = {p: i for i, p in enumerate(CARD_PLATFORMS)}
    best: dict[int, tuple[int, str, str]] = {}
    for pid, platform, user in rows:
        if platform in channels and (pid not in best or order.get(platform, 9) < best[pid][0]):
            best[pid] = (order.get(platform, 9), platform, user)
    return [(platform, user) for _, platform, user in best.values()]


def desk_messages(number: str, reach: list[tuple[str, str]], plan: DispatchPlan) -> list[tuple[str, dict]]:
    """The desk's notice of a new ticket; with nobody on the desk reachable, the trade's supervisors (`plan`)."""
    return [(outbox.TEXT, dict(key=f"{number}:{DESK_NOTICE}:{channel}:{user}", channel=channel, user=user,
                               payload={"template": DESK_NOTICE, "ticket": number, "vars": {}}))
            for channel, user in (reach or list(plan.supervisors))]


async def supervisors_of(session: AsyncSession, trade: str) -> list[Person]:
    rows = (await session.execute(select(Person).where(Person.role.in_(("supervisor", "manager")))
                                  .options(WITH_ACCOUNTS))).unique().scalars()
    return [p for p in rows if not p.trades or trade in p.trades]


async def tell_supervisors(session: AsyncSession, ticket: Ticket, now: datetime, template: str,
                            channels: set[str], **vars) -> None:
    """Each of the trade's supervisors and managers, on their first account we can reach; one INSERT."""
    rows = []
    for person in await supervisors_of(session, ticket.trade):
        for ident in person.identities:
            if ident.platform in channels:
                rows.append(dict(key=f"{ticket.number}:{template}:{ident.platform}:{ident.external_id}"
                                 f":{ticket.version}:{vars.get('by', '')}", channel=ident.platform,
                                 user=ident.external_id,
                                 payload={"template": template, "ticket": ticket.number, "vars": vars}))
                break
    await outbox.enqueue_many(session, rows, kind=outbox.TEXT, now=now, ticket_id=ticket.id)


async def tell_person(session: AsyncSession, ticket: Ticket, person: Person, now: datetime, template: str,
                      channels: set[str] | frozenset[str], **vars) -> bool:
    """A message to one member of staff, on their first account we can reach (1:1 platforms first)."""
    order = {p: i for i, p in enumerate(CARD_PLATFORMS)}
    for ident in sorted(person.identities, key=lambda i: order.get(i.platform, len(order))):
        if ident.platform in channels:
            await outbox.enqueue(session, key=f"{ticket.number}:{template}:{ident.platform}:{ident.external_id}"
                                 f":{ticket.version}", channel=ident.platform, kind=outbox.TEXT,
                                 payload={"template": template, "ticket": ticket.number, "vars": vars},
                                 now=now, user=ident.external_id, ticket_id=ticket.id)
            return True
    return False


async def tell_assignee(session: AsyncSession, ticket: Ticket, now: datetime, template: str,
                        channels: set[str] | frozenset[str], **vars) -> bool:
    """The technician who holds the ticket (BR-11/12: they call the resident, they do the work)."""
    if ticket.assignee_id is None:
        return False
    person = await session.get(Person, ticket.assignee_id)
    return person is not None and await tell_person(session, ticket, person, now, template, channels, **vars)


async def staff_with_roles(session: AsyncSession, roles: tuple[str, ...], trade: str = "") -> list[Person]:
    """Staff of these roles (of this trade, for roles bound to trades), as the configuration names them now."""
    rows = (await session.execute(STAFF_OF_ROLES, {"roles": list(roles)})).unique().scalars()
    return [p for p in rows if not trade or not p.trades or trade in p.trades]


async def tell_roles(session: AsyncSession, ticket: Ticket, now: datetime, roles: tuple[str, ...], template: str,
                     channels: set[str] | frozenset[str], **vars) -> int:
    """Everyone of these roles hears (e.g. the housekeepers of a disputed quote, BR-13); how many could."""
    told = 0
    for person in await staff_with_roles(session, roles, ticket.trade):
        told += await tell_person(session, ticket, person, now, template, channels, **vars)
    return told


async def tell_reporter(session: AsyncSession, ticket: Ticket, now: datetime, template: str, **vars) -> None:
    if ticket.reporter_channel and ticket.reporter_user:
        await outbox.enqueue(session, key=f"{ticket.number}:{template}:reporter:{ticket.version}",
                             channel=ticket.reporter_channel, kind=outbox.TEXT,
                             payload={"template": template, "ticket": ticket.number, "vars": vars}, now=now,
                             user=ticket.reporter_user, ticket_id=ticket.id)


async def card_copies(session: AsyncSession, ticket: Ticket) -> list:
    """(id, channel, recipient_user, recipient_chat) of every copy of the ticket's card."""
    held = prefetch.copies(session, ticket.id)
    if held is not None:
        return held
    return list((await session.execute(select(CardCopy.id, CardCopy.channel, CardCopy.recipient_user,
                                              CardCopy.recipient_chat).where(CardCopy.ticket_id == ticket.id))).all())


async def refresh_cards(session: AsyncSession, ticket: Ticket, now: datetime, *, clicked: tuple[str, str] | None,
                         reply_token: str, copies: list | None = None) -> None:
    """Every copy of the ticket's card is rewritten from the ticket (the clicked one with its token), in one
    INSERT however many copies there are. `copies`: `card_copies` as the caller just read them."""
    copies = await card_copies(session, ticket) if copies is None else copies
    rows = []
    for copy_id, channel, user, chat in copies:
        is_clicked = clicked == (channel, user) and user
        rows.append(dict(key=f"{ticket.number}:card_update:{copy_id}:{ticket.version}", channel=channel, user=user,
                         chat=chat, payload={"copy_id": copy_id, "reply_token": reply_token if is_clicked else ""}))
    await outbox.enqueue_many(session, rows, kind=outbox.CARD_UPDATE, now=now, ticket_id=ticket.id)
