"""The assignee's own copy of a ticket's card (their job card): sent 1:1 when they have none yet."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import outbox
from dispatch.routing import CARD_PLATFORMS
from dispatch.ticket_card import TECHNICIAN
from store.models import CardCopy, Outbox, Ticket


async def send_job_card(session: AsyncSession, ticket: Ticket, now: datetime, channels: frozenset[str] | set[str],
                        prefer: str = "") -> bool:
    """Queue the job card to the assignee 1:1 unless a technician copy already reaches them (or is queued).

    Who took the job from a Feishu group card, or was handed it by 转派 / 改派, holds no 1:1 copy: without
    one they would have no buttons to press. `prefer`: the platform they acted on, when they are on it.
    Returns whether a card was queued.
    """
    person = ticket.assignee
    if person is None:
        return False
    accounts = [(i.platform, i.external_id) for i in person.identities
                if i.platform in CARD_PLATFORMS and i.platform in channels]
    if not accounts:
        return False
    copies = (await session.execute(select(CardCopy.channel, CardCopy.recipient_user).where(
        CardCopy.ticket_id == ticket.id, CardCopy.audience == TECHNICIAN, CardCopy.recipient_chat == ""))).all()
    queued = (await session.execute(select(Outbox.channel, Outbox.recipient).where(
        Outbox.ticket_id == ticket.id, Outbox.kind == outbox.CARD))).all()
    reached = {(c, u) for c, u in copies} | {(c, outbox.split_recipient(r)[0]) for c, r in queued}
    if any(a in reached for a in accounts):
        return False
    rank = {p: i for i, p in enumerate(CARD_PLATFORMS)}
    channel, user = min(accounts, key=lambda a: (a[0] != prefer, rank[a[0]]))
    await outbox.enqueue(session, key=f"{ticket.number}:job:{channel}:{user}:{person.id}", channel=channel,
                         kind=outbox.CARD, payload={"ticket": ticket.number, "audience": TECHNICIAN}, now=now,
                         user=user, ticket_id=ticket.id)
    return True


async def keep_rewrite_token(session: AsyncSession, ticket: Ticket, channel: str, user: str, token: str) -> None:
    """A press that changed nothing leaves its platform token unspent (a WeCom click's response_code, single
    use, 72 h): kept on the presser's copy, the next change rewrites that card instead of sending a new one."""
    if not token:
        return
    await session.execute(update(CardCopy).where(
        CardCopy.ticket_id == ticket.id, CardCopy.channel == channel, CardCopy.recipient_user == user,
        CardCopy.recipient_chat == "").values(handle=token).execution_options(synchronize_session=False))
