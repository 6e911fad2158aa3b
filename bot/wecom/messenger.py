"""WecomMessenger: relay.messengers.Messenger for a WeCom self-built app (1:1 messages and app group chats)."""
from __future__ import annotations

from relay.messengers import Delivered, DeliveryError, Recipient, Undeliverable
from bot.wecom import render
from bot.wecom.question import question_payload
from bot.wecom.client import WecomClient
from bot.wecom.errors import RecipientUnreachable, WecomError
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
        """Grey the copy's buttons and show `card.status`; a group copy (markdown) gets the new state posted."""
        if to.chat:
            return await self.send_card(to, card)
        code = reply_token or copy.handle
        if not code:
            raise DeliveryError("no response_code to update this card with", retryable=False, code="wecom:no_code")
        try:
            await self.client.update_template_card(render.settled_update(card, code, self.client.agent_id))
        except WecomError as e:
            raise delivery_error(e) from None
        # A response_code is single use: the one just spent is gone; the send's own code survives a click's.
        return Delivered(message_id=copy.message_id, handle=copy.handle if reply_token else "")
