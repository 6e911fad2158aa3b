"""A button press from any platform (or a REST action) → one domain action → an immediate answer to the presser.

Staff buttons run `dispatch.actions.act`; a resident's answer buttons run `dispatch.resident.answer`. The
four buttons that need input — 报价, 暂停, 改约, 完工 — pressed on a card (no body) act on nothing yet: once
the press is known to be allowed, they start a short conversation in the presser's 1:1 chat
(conversations/staff_flow.py) and answer with its first question; its 确认 runs the action.
"""
from __future__ import annotations

import hashlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conversations.messages import ButtonPress, Reply
from conversations.staff_flow import FLOW_ACTIONS, StaffFlows
from dispatch import receipts
from dispatch.actions import ActionResult, act
from dispatch.job_card import keep_rewrite_token, send_job_card
from dispatch.payloads import CardAction, decode
from dispatch.policy import Policy
from dispatch.precheck import precheck
from dispatch.tickets import get_ticket
from relay.outbox_writer import OutboxWriter
from store.clock import Clock
from templates.texts import Texts

log = logging.getLogger(__name__)

ASKED = "asked"   # outcome of a press that started a staff conversation: its answer is the first question
# 接单 from a group card leaves the new holder without a 1:1 copy: they get their job card (dispatch/job_card.py).
# (转派 to a person and 改派 send the new holder theirs in the domain, dispatch/job.py.)
HANDS_OVER = frozenset({"accept"})


class CardActions:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock, texts: Texts,
                 outbox_writer: OutboxWriter, policy: Policy, flows: StaffFlows | None = None) -> None:
        self.sessions, self.clock, self.texts, self.outbox_writer = sessions, clock, texts, outbox_writer
        self.policy = policy   # prices, waits; `policy.channels`: where notices can go
        self.flows = flows     # None: no staff conversations (input actions then need a body)

    async def press(self, p: ButtonPress, receipt: str = "", body: dict | None = None) -> tuple[ActionResult, str]:
        """Run the action; returns the result and the sentence the presser sees (toast or message).

        `body`: the action's input (a REST call's JSON); None for a card press. A press with an id
        (`p.press_id`, or `receipt` for a REST call's Idempotency-Key) runs once: its receipt is written in
        the action's transaction, and a retry answers with the first outcome and the ticket as it is now.
        Raises `receipts.KeyReused` when a key comes back for another action.
        """
        action = decode(p.payload)
        if action is None:
            return ActionResult("unknown_ticket"), self._say(ActionResult("unknown_ticket"), "")
        if body is None and action.body is not None:
            body = action.body   # an alert's button: 已知晓 names its alert, 改派 the technician (dispatch/payloads.py)
        now = self.clock.now()
        key = receipt or (receipts.receipt_key(p.channel, p.press_id) if p.press_id else "")
        asks = body is None and action.action in FLOW_ACTIONS and self.flows is not None
        async with self.sessions() as session, session.begin():
            first = await receipts.claim(session, key, action.action, action.ticket, now) if key else None
            if first is not None:
                log.info("press %s retried; answered with its first outcome", key)
                result = ActionResult(first.outcome, await get_ticket(session, action.ticket), first.holder)
                asks = False  # a retried press never starts its conversation over
            elif action.by_resident:
                result = await self._answer(session, p, action, now)
            elif asks:
                # Refused at once if refused at all: nothing is asked for an action that cannot happen.
                checked = await precheck(session, action.ticket, p.channel, p.user, action.action)
                result = ActionResult(ASKED, checked.ticket, checked.holder) if checked.outcome == "ok" else checked
            else:
                result = await act(session, action.ticket, action.action, p.channel, p.user, now, body,
                                   policy=self.policy, reply_token=p.reply_token)
                if result.outcome == "ok" and action.action in HANDS_OVER and result.ticket is not None:
                    await session.refresh(result.ticket, ["assignee"])
                    await send_job_card(session, result.ticket, now, self.policy.channels, prefer=p.channel)
            if result.outcome not in ("ok", ASKED) and result.ticket is not None and first is None:
                await keep_rewrite_token(session, result.ticket, p.channel, p.user, p.reply_token)
            if key and first is None:
                await receipts.settle(session, key, result.outcome, result.holder)
            text = self._say(result, action.action)
            ticket = result.ticket
        if asks and result.outcome == ASKED:
            text = await self.flows.start(p.channel, p.user, action.action, ticket, reply_token=p.reply_token)
        log.info("press %s %s by %s:%s → %s", action.action, action.ticket, p.channel, p.user, result.outcome)
        return result, text

    async def _answer(self, session: AsyncSession, p: ButtonPress, action: CardAction, now) -> ActionResult:
        """A resident's answer button (同意 / 不同意 / 已修好 / 没修好): the same function their typed words call."""
        from dispatch.resident import answer

        return await answer(session, p.channel, p.user, action.action, now, policy=self.policy, number=action.ticket)

    def _say(self, result: ActionResult, action: str) -> str:
        return self.texts.render("notify/press_result.j2", outcome=result.outcome, action=action, t=result.ticket,
                                 holder=result.holder, detail=result.detail)

    async def press_and_reply(self, p: ButtonPress) -> ActionResult:
        """For platforms whose click gets no inline answer (WeCom): the result goes back as a message,
        through the outbox like every other message (keyed on the click, so a redelivery sends it once).
        A conversation the press started asks its first question there, in the presser's 1:1 chat."""
        result, text = await self.press(p)
        # Keyed on the click itself (`press_id`: a redelivery carries it again), not on the card and button: the
        # same button pressed again later (完工 after a 取消) is answered again. Hashed: an outbox key is short.
        click = p.press_id or f"{p.user}:{p.message_id or p.reply_token}:{p.payload}"
        key = "press:" + hashlib.sha1(click.encode()).hexdigest()[:24]
        await self.outbox_writer.queue_replies(p.channel, p.user, "", [Reply(text)], key)
        return result
