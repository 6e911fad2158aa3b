"""FeishuMessenger: relay.messengers.Messenger for a Feishu bot (chats by chat_id, people by open_id)."""
from __future__ import annotations

import hashlib
import json

from bot.feishu import render
from bot.feishu.client import FeishuClient, FeishuError, RecipientUnreachable
from bot.feishu.question import question_card
from relay.messengers import Delivered, DeliveryError, Recipient, Undeliverable
from dispatch.cards import Card
from store.clock import Clock
from templates.texts import Texts

CHANNEL = "feishu"
UUID_MAX = 50  # Feishu's limit on the idempotency uuid
TEXT_WINDOW = 60  # seconds: the outbox's first retries (2 s, 4 s, 8 s…) land in it


def delivery_error(e: FeishuError) -> DeliveryError:
    """The platform's error in the outbox's terms: retry later, or a dead letter shown to staff."""
    if isinstance(e, RecipientUnreachable):
        return Undeliverable(str(e), code=f"feishu:{e.code}")
    return DeliveryError(str(e), retryable=e.retryable, code=f"feishu:{e.code}")


def send_uuid(*parts: str) -> str:
    """A deterministic idempotency uuid: the same logical send within Feishu's hour is one message."""
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()
    return ("rb" + digest)[:UUID_MAX - 16]


def _target(to: Recipient) -> tuple[str, str]:
    return ("chat_id", to.chat) if to.chat else ("open_id", to.user)


class FeishuMessenger:
    """Every send carries a uuid: `idempotency_key` when the caller has one (an outbox row id), else one
    derived from what is sent. A card: its ticket key, so a retried dispatch never posts a second card into
    the group. A text: recipient + text + the current minute, so a retry after a lost answer is one message
    while the same sentence said again later (a second "not understood") is not swallowed for an hour."""

    channel = CHANNEL

    def __init__(self, client: FeishuClient, texts: Texts, clock: Clock) -> None:
        self.client = client
        self.texts = texts
        self.clock = clock

    async def send_text(self, to: Recipient, text: str, options: tuple[str, ...] = (), *,
                        idempotency_key: str = "") -> Delivered:
        """Options 1:1 become a card's buttons (a press is read as the answer typed); in a group, where
        anybody could press them, a line of 「answers」 to type."""
        if options and not to.chat:
            return await self._send_question(to, text, tuple(options), idempotency_key)
        body = self.texts.render("feishu/with_options.j2", text=text, options=list(options)) if options else text
        # In a group the resident is @-ed: two residents may be talking to the bot in one chat at once.
        content = render.text_content(body, mention=to.user if to.chat else "")
        kind, target = _target(to)
        if idempotency_key:
            uuid = send_uuid("text", idempotency_key)
        else:
            minute = str(int(self.clock.now().timestamp()) // TEXT_WINDOW)
            uuid = send_uuid("text", kind, target, body, minute)
        try:
            message_id = await self.client.send(kind, target, "text", content, uuid)
        except FeishuError as e:
            raise delivery_error(e) from None
        return Delivered(message_id=message_id)

    async def _send_question(self, to: Recipient, text: str, options: tuple[str, ...], idempotency_key: str
                             ) -> Delivered:
        kind, target = _target(to)
        native = question_card(text, options)
        if idempotency_key:
            uuid = send_uuid("question", idempotency_key)
        else:  # as a text: the same question within the minute is one message
            minute = str(int(self.clock.now().timestamp()) // TEXT_WINDOW)
            uuid = send_uuid("question", kind, target, text, *options, minute)
        try:
            message_id = await self.client.send(kind, target, "interactive", native, uuid)
        except FeishuError as e:
            raise delivery_error(e) from None
        return Delivered(message_id=message_id)

    async def send_card(self, to: Recipient, card: Card, *, idempotency_key: str = "") -> Delivered:
        kind, target = _target(to)
        native = render.card(card)
        if idempotency_key:
            uuid = send_uuid("card", idempotency_key)
        elif card.key:
            uuid = send_uuid("card", kind, target, card.key)
        else:
            uuid = send_uuid("card", kind, target, json.dumps(native, ensure_ascii=False, sort_keys=True))
        try:
            message_id = await self.client.send(kind, target, "interactive", native, uuid)
        except FeishuError as e:
            raise delivery_error(e) from None
        return Delivered(message_id=message_id)

    async def update_card(self, to: Recipient, copy: Delivered, card: Card, reply_token: str = "") -> Delivered:
        """PATCH the copy with the card re-rendered from the ticket; the same message keeps its id."""
        if not copy.message_id:
            raise DeliveryError("no message_id to update", retryable=False, code="feishu:no_message_id")
        try:
            await self.client.patch_card(copy.message_id, render.card(card))
        except FeishuError as e:
            raise delivery_error(e) from None
        return Delivered(message_id=copy.message_id)
