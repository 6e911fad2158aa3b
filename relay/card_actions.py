"""A button press from any platform → one domain action → an immediate answer to the presser."""
from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conversations.messages import ButtonPress, Reply
from templates.texts import Texts
from dispatch import receipts
from dispatch.actions import ActionResult, act
from dispatch.policy import Policy
from dispatch.payloads import decode
from dispatch.tickets import get_ticket
from relay.outbox_writer import OutboxWriter
from store.clock import Clock

log = logging.getLogger(__name__)


class CardActions:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock, texts: Texts,
                 outbox_writer: OutboxWriter, policy: Policy) -> None:
        self.sessions, self.clock, self.texts, self.outbox_writer = sessions, clock, texts, outbox_writer
        self.policy = policy  # prices, waits, and the channels a ticket's notices can go to

    async def press(self, p: ButtonPress, receipt: str = "", body: dict | None = None) -> tuple[ActionResult, str]:
        """Run the action; returns the result and the sentence the presser sees (toast or message).

        A press with an id (`p.press_id`, or `receipt` for a REST call's Idempotency-Key) runs once: its
        receipt is written in the action's transaction, and a retry answers with the first outcome and the
        ticket as it is now. Raises `receipts.KeyReused` when a key comes back for another action.
        """
        action = decode(p.payload)
        texts = self.texts
        if action is None:
            return ActionResult("unknown_ticket"), texts.render("notify/press_result.j2", outcome="unknown_ticket",
                                                               action="", t=None, holder="")
        now = self.clock.now()
        key = receipt or (receipts.receipt_key(p.channel, p.press_id) if p.press_id else "")
        async with self.sessions() as session, session.begin():
            first = await receipts.claim(session, key, action.action, action.ticket, now) if key else None
            if first is not None:
                log.info("press %s retried; answered with its first outcome", key)
                result = ActionResult(first.outcome, await get_ticket(session, action.ticket), first.holder)
            else:
                result = await act(session, action.ticket, action.action, p.channel, p.user, now, body,
                                   policy=self.policy, reply_token=p.reply_token)
            if key and first is None:
                await receipts.settle(session, key, result.outcome, result.holder)
            text = texts.render("notify/press_result.j2", outcome=result.outcome, action=action.action,
                                t=result.ticket, holder=result.holder)
        log.info("press %s %s by %s:%s → %s", action.action, action.ticket, p.channel, p.user, result.outcome)
        return result, text

    async def press_and_reply(self, p: ButtonPress) -> ActionResult:
        """For platforms whose click gets no inline answer (WeCom): the result goes back as a message,
        through the outbox like every other message (keyed on the click, so a redelivery sends it once)."""
        result, text = await self.press(p)
        key = f"press:{p.user}:{p.message_id or p.reply_token}:{p.payload}"
        await self.outbox_writer.queue_replies(p.channel, p.user, "", [Reply(text)], key)
        return result
