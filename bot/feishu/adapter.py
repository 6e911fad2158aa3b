"""Feishu channel: webhook verify → decrypt → inbox (messages) or inline answer (card clicks); `process` does the rest.

lark_oapi is not imported by the service at all: the callback crypto is 30 lines on `cryptography` and the
four API calls are plain aiohttp, whereas `import lark_oapi` costs ≈2.3 s and ≈175 MB per process, its
dispatcher is synchronous and its async calls fetch tokens with blocking `requests`. The tests build
requests with the platform's algorithm and check them against lark_oapi's own decryptor and signature
check, which proves wire compatibility without paying for the SDK in production.

Answers: 413 body over 1 MB; 400 unreadable (not JSON, undecryptable, a subscribed event without its ids);
403 bad signature, a timestamp more than 5 minutes off, or a wrong verification token; 200 `{}` for
everything else at once, including event types we do not handle (a 5xx would make Feishu retry).
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any

from aiohttp import web
from sqlalchemy import select

from bot.channel import Channel, ChannelParts
from bot.feishu import render
from bot.feishu.client import FeishuClient, FeishuError
from bot.feishu.crypto import FeishuCrypto
from bot.feishu.event import (CARD_ACTION, CHANNEL, MESSAGE, URL_VERIFICATION, FeishuMessage, MalformedEvent,
                              card_press, envelope, message, option_message, sender_open_id)
from bot.feishu.messenger import FeishuMessenger
from bot.http import read_limited
from bot.rejections import CallbackRejected
from bot.settings import Settings
from bot.voice import with_recording
from conversations.messages import ButtonPress, InboundMessage, Reply
from dispatch.alert_card import alert_card
from dispatch.payloads import decode
from dispatch.ticket_card import ticket_card
from dispatch.tickets import get_ticket
from relay.card_actions import ASKED
from relay.inbox import Item
from store.models import CardCopy

log = logging.getLogger(__name__)

MAX_CALLBACK_BODY = 1024 * 1024
HANDLED_TYPES = ("text", "image", "post", "audio")
TOASTS = {"ok": "success", "asked": "info", "taken": "info", "closed": "info", "not_your_trade": "warning",
          "not_allowed": "warning", "unknown_person": "warning", "unknown_ticket": "error", "bad_state": "error",
          "invalid": "error"}


class FeishuChannel(Channel):
    """`/feishu/events` (messages) and `/feishu/card` (clicks, answered inline)."""

    name = CHANNEL

    def __init__(self, settings: Settings, parts: ChannelParts) -> None:
        feishu = settings.feishu
        if feishu is None:
            raise ValueError("settings.feishu is not configured")
        self.crypto = FeishuCrypto(feishu.verification_token.get_secret_value(),
                                   feishu.encrypt_key.get_secret_value(), parts.clock)
        self.client = FeishuClient(api_base=feishu.api_base, app_id=feishu.app_id,
                                   app_secret=feishu.app_secret.get_secret_value(), tokens=parts.tokens)
        self.messenger = FeishuMessenger(self.client, parts.texts, parts.clock)
        self.texts = parts.texts
        self.clock = parts.clock
        self.sla = settings.sla
        self.sessions = parts.sessions
        self.inbox = parts.inbox
        self.conversations = parts.conversations
        self.outbox_writer = parts.outbox_writer
        self.card_actions = parts.card_actions

    def routes(self) -> list[web.RouteDef]:
        # Card callbacks may be configured to their own URL.
        return [web.post("/feishu/events", self.callback), web.post("/feishu/card", self.callback)]

    async def close(self) -> None:
        await self.client.close()

    async def callback(self, request: web.Request) -> web.Response:
        body = await read_limited(request, MAX_CALLBACK_BODY)
        h = request.headers  # case-insensitive, as the signature headers arrive in any case
        try:
            payload = self.crypto.open(body, h.get("X-Lark-Request-Timestamp", ""),
                                       h.get("X-Lark-Request-Nonce", ""), h.get("X-Lark-Signature", ""))
            env = envelope(payload)
        except (CallbackRejected, MalformedEvent) as e:
            log.warning("feishu callback refused: %s", type(e).__name__)
            raise _refused(e) from None
        if env.type == URL_VERIFICATION:
            return web.json_response({"challenge": env.challenge})
        if env.type == MESSAGE:
            # Only the event part is kept: the header carries the verification token.
            fresh = await self.inbox.offer(CHANNEL, env.dedupe_id, {"kind": "message", "event": payload.get("event")},
                                           key=sender_open_id(payload))
            if not fresh:
                log.info("feishu retry of %s ignored", env.dedupe_id)
            return web.json_response({})
        if env.type == CARD_ACTION:
            answered = option_message(payload, env.dedupe_id)
            if answered is not None:
                return web.json_response(await self.option_answer(answered, payload))
            try:
                p = card_press(payload)
            except MalformedEvent:
                raise web.HTTPBadRequest(text="bad request") from None
            return web.json_response(await self.card_answer(p, env.dedupe_id))
        log.info("feishu %s callback ignored", env.type or "untyped")
        return web.json_response({})

    async def option_answer(self, msg: InboundMessage, payload: dict[str, Any]) -> dict[str, Any]:
        """A pressed answer button is a message the person typed: into the inbox like one (keyed on the
        click's event id, so Feishu's retry is one answer), answered inline with a toast only."""
        fresh = await self.inbox.offer(CHANNEL, msg.message_id, {"kind": "option", "event": payload.get("event"),
                                                                 "dedupe": msg.message_id}, key=msg.user)
        if not fresh:
            log.info("feishu retry of %s ignored", msg.message_id)
        return {"toast": {"type": "info", "content": self.texts.render("channels/option_chosen.j2", option=msg.text)}}

    async def card_answer(self, p: ButtonPress, dedupe_id: str) -> dict[str, Any]:
        """Run the press once and answer with a toast and the clicked card re-rendered from the ticket; the
        other copies are patched by the outbox.

        The click is keyed on its event id in the database, in the transaction of its action (not marked
        seen before it runs): Feishu's retry of a click whose first attempt failed runs it, and a retry of
        one that committed gets the first answer again with the card as it is now.
        """
        result, text = await self.card_actions.press(dataclasses.replace(p, press_id=dedupe_id))
        if result.outcome == ASKED:
            # 报价 / 暂停 / 改约 / 完工 ask their questions in the presser's 1:1 chat (a toast cannot hold a
            # price list, and a group is no place for it); the toast points there.
            await self.outbox_writer.queue_replies(CHANNEL, p.user, "", [Reply(text)], f"{dedupe_id}:asked")
            action = decode(p.payload)
            text = self.texts.render("staff/continue_in_chat.j2", action=action.action if action else "")
        answer: dict[str, Any] = {"toast": {"type": TOASTS.get(result.outcome, "info"), "content": text}}
        current = await self._card_now(p)
        if current is not None:
            answer["card"] = {"type": "raw", "data": current}
        return answer

    async def _card_now(self, p: ButtonPress) -> dict[str, Any] | None:
        action = decode(p.payload)
        if action is None:
            return None
        async with self.sessions() as session:
            ticket = await get_ticket(session, action.ticket)
            if ticket is None:
                return None
            if action.alert:   # an overdue alert's card shows who acknowledged it
                return render.card(await alert_card(session, ticket, action.alert, self.texts, self.clock.now(),
                                                    self.sla))
            # The clicked copy keeps its audience and reader: a 1:1 technician card shows the full phone (and is
            # the holder's job card), a group one masks it.
            audience, reader = "group", None
            if p.message_id:
                found = (await session.execute(select(CardCopy).where(
                    CardCopy.channel == CHANNEL, CardCopy.message_id == p.message_id).limit(1))).scalar()
                if found is not None:
                    audience = found.audience
                    reader = (CHANNEL, found.recipient_user) if found.recipient_user and not found.recipient_chat \
                        else None
            return render.card(ticket_card(ticket, audience, self.texts, recipient=reader, now=self.clock.now(),
                                           sla=self.sla))

    async def process(self, item: Item) -> None:
        """Work one stored message: mention check, image or recording download, conversation steps, replies."""
        if item.payload.get("kind") == "option":
            msg = option_message({"event": item.payload.get("event")}, str(item.payload.get("dedupe") or ""))
            if msg is not None and msg.message_id:
                replies = await self.conversations.handle(msg)
                await self.outbox_writer.queue_replies(CHANNEL, msg.user, "", replies, msg.message_id)
            return
        if item.payload.get("kind") != "message":
            return  # a card click's seen-marker left by an older release: the click was answered inline
        try:
            m = message({"event": item.payload.get("event")})
        except MalformedEvent:
            log.warning("feishu inbox item %s is not a message; dropped", item.id)
            return
        if m.from_app:
            return
        bot_id = None
        if m.is_group:
            bot_id = await _bot_open_id(self.client)
            if not m.mentions_of(bot_id):
                return  # group chatter that is not addressed to us
        # Through the outbox, keyed on the message: a Feishu outage delays answers, a redelivery never doubles
        # them. In a group the answer goes to the group, @-ing the resident; 1:1 it goes to the person.
        chat = m.chat_id if m.is_group else ""
        if m.message_type not in HANDLED_TYPES:
            replies = [Reply(self.texts.render("channels/unsupported.j2"))]
            await self.outbox_writer.queue_replies(CHANNEL, m.open_id, chat, replies, f"{m.message_id}:unsupported")
            return
        for step, msg in enumerate(await self._inbound(m, bot_id)):
            replies = await self.conversations.handle(msg)
            await self.outbox_writer.queue_replies(CHANNEL, m.open_id, chat, replies, f"{m.message_id}:{step}")

    async def _inbound(self, m: FeishuMessage, bot_id: str | None) -> list[InboundMessage]:
        """A post with words and a photo becomes two steps (words first): the conversation reads one or the other."""
        # A 1:1 conversation is keyed (channel, user, user) as on every platform that carries staff, so a
        # button pressed in a group can start the presser's staff flow in their 1:1 chat (conversations.staff_flow).
        chat = m.chat_id if m.is_group else m.open_id
        base = {"channel": CHANNEL, "chat": chat, "user": m.open_id, "message_id": m.message_id}
        text = m.text_without(bot_id) if m.mentions else m.text.strip()
        out = []
        if m.message_type == "audio":
            # Feishu gives no transcript: the recording (Opus) is kept with the report.
            msg = InboundMessage(voice=True, **base)
            if m.file_key:
                msg = await with_recording(msg, lambda: self.client.get_file(m.message_id, m.file_key), "opus")
            return [msg]
        if text or not m.image_key:
            out.append(InboundMessage(text=text, **base))
        if m.image_key:
            try:
                data = await self.client.get_image(m.message_id, m.image_key)
            except FeishuError as e:
                log.info("feishu image of %s not available (code %s)", m.message_id, e.code)
                data = b""
            # The conversation answers a repeated message_id as a redelivery: the photo step of a post needs its own.
            photo = {**base, "message_id": f"{m.message_id}:image"} if out else base
            out.append(InboundMessage(image=data or None, image_failed=not data, **photo))
        return out


def _refused(e: Exception) -> web.HTTPException:
    status = getattr(e, "status", 400)
    return web.HTTPForbidden(text="forbidden") if status == 403 else web.HTTPBadRequest(text="bad request")


async def _bot_open_id(client: FeishuClient) -> str | None:
    try:
        return await client.bot_open_id()
    except FeishuError as e:
        log.warning("feishu bot/v3/info failed (%s); any mention counts as a mention of the bot", e.code)
        return None
