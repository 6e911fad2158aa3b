"""WecomMessenger: relay.messengers.Messenger for a WeCom self-built app (1:1 messages and app group chats)."""
from __future__ import annotations

import hashlib

from relay.messengers import Delivered, DeliveryError, Recipient, Undeliverable
from bot.wecom import render
from bot.wecom.question import question_payload
from bot.wecom.client import WecomClient
from bot.wecom.errors import InvalidArgument, RecipientUnreachable, WecomError
from dispatch.cards import Card
from store.clock import Clock


def delivery_error(e: WecomError) -> DeliveryError:
    """The platform's error in the outbox's terms: retry later, or a dead letter shown to staff."""
    if isinstance(e, RecipientUnreachable):
        return Undeliverable(str(e), code=f"wecom:{e.code}")
    return DeliveryError(str(e), retryable=e.retryable, code=f"wecom:{e.code}")


def with_options(text: str, options: tuple[str, ...]) -> str:
    """Where no card can carry them (a group chat, a long question), the options become a last line to type."""
    if not options:
        return text
    return text + "\n" + " / ".join(f"「{o}」" for o in options)


def status_mark(card: Card) -> str:
    """What a group copy's handle keeps: a digest of the status it last posted."""
    return "status:" + hashlib.sha256((card.status or card.title).encode()).hexdigest()[:16]


class WecomMessenger:
    channel = "wecom"

    def __init__(self, client: WecomClient, clock: Clock) -> None:
        self.client = client
        self.clock = clock

    async def send_text(self, to: Recipient, text: str, options: tuple[str, ...] = (), *,
                        idempotency_key: str = "") -> Delivered:
        """Options 1:1 become a card's buttons (a press is read as the answer typed); in a group chat, or
        when the question does not fit a card, a last line of 「answers」 to type."""
        options = tuple(options)
        question = None
        if options and not to.chat:
            task = render.task_id("ask", to.user, int(self.clock.now().timestamp() * 1000))
            question = question_payload(to.user, text, options, task)
        try:
            if question is not None:
                result = await self.client.send_message(question)
                return Delivered(message_id=str(result.get("msgid", "")), handle=str(result.get("response_code", "")))
            body = with_options(text, options)
            if to.chat:
                result = await self.client.appchat_send(render.chat_text(to.chat, body))
            else:
                result = await self.client.send_message(render.text_payload(to.user, body))
        except WecomError as e:
            raise delivery_error(e) from None
        return Delivered(message_id=str(result.get("msgid", "")))

    async def send_card(self, to: Recipient, card: Card, *, idempotency_key: str = "") -> Delivered:
        try:
            if to.chat:
                # appchat/send cannot carry template_card: the group gets markdown, buttons go out 1:1.
                result = await self.client.appchat_send(render.chat_markdown(to.chat, card))
                return Delivered(message_id=str(result.get("msgid", "")))
            task = render.task_id(card.key, to.user, int(self.clock.now().timestamp() * 1000))
            result = await self.client.send_message(render.card_payload(to.user, card, task))
        except WecomError as e:
            raise delivery_error(e) from None
        return Delivered(message_id=str(result.get("msgid", "")), handle=str(result.get("response_code", "")))

    async def update_card(self, to: Recipient, copy: Delivered, card: Card, reply_token: str = "") -> Delivered:
        """Rewrite a 1:1 copy with a response_code: in full when its reader still acts on it (new fields,
        new buttons), else only its buttons greyed with `card.status`. A group copy (markdown) gets a new
        status posted.

        A response_code is single use: a click brings a fresh one (`reply_token`), the send's own (`handle`)
        serves one update without a click. With none left (or one WeCom refuses), a card its reader still acts
        on goes out again as a new message (whose code is kept); any other stays as it is, already greyed.
        """
        if to.chat:
            # An app group chat cannot edit what it showed: the card is posted again, but only when its
            # status line moved (接单, 完工, 取消), not at every step of the job.
            mark = status_mark(card)
            if copy.handle == mark:
                return copy
            sent = await self.send_card(to, card)
            return Delivered(message_id=sent.message_id, handle=mark)
        full = render.rewrites_in_full(card)
        code = reply_token or copy.handle
        if not code:
            return await self.send_card(to, card) if full else copy
        body = (render.full_update if full else render.settled_update)(card, code, self.client.agent_id)
        try:
            await self.client.update_template_card(body)
        except InvalidArgument as e:
            if not full:
                raise delivery_error(e) from None
            # The code was spent or expired (72 h): the reader still needs the card, so it goes out anew.
            return await self.send_card(to, card)
        except WecomError as e:
            raise delivery_error(e) from None
        # The send's own code survives a click's; once used it is gone.
        return Delivered(message_id=copy.message_id, handle=copy.handle if reply_token else "")
