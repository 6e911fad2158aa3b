"""Official Account channel: webhook (GET verify, POST receive → inbox → `success`) and processing of inbox items."""
from __future__ import annotations

import logging
from datetime import datetime

from aiohttp import web

from bot.channel import Channel, ChannelParts
from bot.http import read_limited
from bot.nonces import NonceLedger
from bot.rejections import CallbackRejected
from bot.settings import Settings
from bot.voice import with_recording
from bot.wechat_mp.client import MpClient, MpError
from bot.wechat_mp.crypto import MpCrypto
from bot.wechat_mp.event import MalformedXml, dedupe_id, parse_xml, text_of, to_message
from bot.wechat_mp.messenger import WechatMpMessenger
from bot.wechat_mp.window import ReplyWindow
from conversations.messages import InboundMessage, Reply
from relay.inbox import Item

log = logging.getLogger(__name__)

CHANNEL = "wechat_mp"
PATH = "/wechat/mp"
MAX_BODY = 1024 * 1024  # WeChat's XML is a few KB; anything near this is not WeChat
_STATUS_WORDS = {400: "bad request", 403: "forbidden", 413: "too large"}


class WechatMpChannel(Channel):
    name = CHANNEL

    def __init__(self, settings: Settings, parts: ChannelParts) -> None:
        mp = settings.wechat_mp
        if mp is None:
            raise ValueError("settings.wechat_mp is not configured")
        self.settings = mp
        self.clock = parts.clock
        self.client = MpClient(api_base=mp.api_base, app_id=mp.app_id, secret=mp.secret.get_secret_value(),
                               tokens=parts.tokens)
        self.window = ReplyWindow(parts.sessions, parts.clock, "mp:win", seconds=48 * 3600)
        self.crypto = MpCrypto(mp.token.get_secret_value(), mp.app_id, parts.clock,
                               mp.encoding_aes_key.get_secret_value())
        self.messenger = WechatMpMessenger(self.client, self.window)
        # Plain mode: the signature does not cover the body, so a (timestamp, nonce) is used once.
        self.nonces = NonceLedger(parts.clock, parts.redis, CHANNEL, prefix=parts.redis_prefix)
        self.inbox = parts.inbox
        self.conversations = parts.conversations
        self.outbox_writer = parts.outbox_writer
        self.texts = parts.texts

    def routes(self) -> list[web.RouteDef]:
        return [web.get(PATH, self.verify_url), web.post(PATH, self.receive)]

    async def close(self) -> None:
        await self.client.close()

    async def verify_url(self, request: web.Request) -> web.Response:
        """URL verification: answer echostr when signature/timestamp/nonce check out."""
        q = request.query  # already URL-decoded: never unquote again
        try:
            self.crypto.check_plain(q.get("signature", ""), q.get("timestamp", ""), q.get("nonce", ""))
        except CallbackRejected as e:
            return _reject(e.status, str(e))
        return web.Response(text=q.get("echostr", ""), content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        """Verify, decrypt, de-duplicate, store; answer `success` at once (the reply goes out later)."""
        crypto = self.crypto
        q = request.query
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        body = await read_limited(request, MAX_BODY)
        plain = False
        try:
            if q.get("encrypt_type", "").lower() == "aes":
                encrypt = text_of(parse_xml(body), "Encrypt")
                if not encrypt:
                    raise MalformedXml("no Encrypt field")
                xml = crypto.decrypt(encrypt, q.get("msg_signature", ""), timestamp, nonce)
            elif crypto.safe_mode:
                # The plain signature covers only token/timestamp/nonce, not the body: once safe mode is
                # configured, an unencrypted body is refused rather than trusted on that weaker proof.
                return _reject(403, "plain callback while safe mode is configured")
            else:
                crypto.check_plain(q.get("signature", ""), timestamp, nonce)
                xml, plain = body.decode("utf-8"), True
            root = parse_xml(xml)
            dedupe = dedupe_id(root)
            to_message(root)  # what the worker could not parse must not sit in the inbox failing forever
        except CallbackRejected as e:
            return _reject(e.status, str(e))
        except (MalformedXml, UnicodeDecodeError) as e:
            return _reject(400, f"malformed: {e}")
        if plain and not await self.nonces.first(timestamp, nonce, dedupe):
            # A captured plain-mode signature replayed with another message: refused like a forgery.
            return _reject(403, "timestamp and nonce already used for another message")
        fresh = await self.inbox.offer(CHANNEL, dedupe, {
            "xml": xml, "received_at": self.clock.now().isoformat()}, key=text_of(root, "FromUserName"))
        if not fresh:
            log.info("wechat_mp retry of %s ignored", dedupe)
        return web.Response(text="success", content_type="text/plain")

    async def process(self, item: Item) -> None:
        """One stored callback: remember the user wrote, run the conversation, answer through customer service."""
        m = to_message(parse_xml(item.payload["xml"]))
        at = item.payload.get("received_at")
        received = datetime.fromisoformat(at) if at else self.clock.now()
        if m.kind == "event" and m.event.lower() == "unsubscribe":
            return  # nothing to answer, and the window is closed for good until they follow again
        await self.window.opened(m.openid, at=received)
        texts = self.texts
        if m.kind == "event":
            if m.event.lower() != "subscribe":
                return  # menu clicks, scans, template receipts: nothing the desk needs
            replies = [Reply(texts.render("channels/wechat_mp/subscribed.j2"))]
        elif m.kind == "unsupported":
            replies = [Reply(texts.render("channels/unsupported.j2"))]
        else:
            image, failed = None, False
            if m.kind == "image":
                # Temporary media lives 3 days: fetch it now, not when the ticket is filed.
                try:
                    image, _ = await self.client.get_media(m.media_id)
                except MpError as e:
                    log.warning("wechat_mp media %s not downloaded: %s", m.media_id, e)
                    failed = True
            msg = InboundMessage(channel=CHANNEL, chat=m.openid, user=m.openid, text=m.text, image=image,
                                 image_failed=failed, message_id=m.msg_id, voice=m.raw_type == "voice")
            if m.kind == "voice" and m.media_id:
                msg = await with_recording(msg, lambda: _media_bytes(self.client, m.media_id), m.audio_format)
            replies = await self.conversations.handle(msg)
        # Through the outbox: a refused or failed send is retried or recorded, never silently dropped.
        await self.outbox_writer.queue_replies(CHANNEL, m.openid, "", replies, m.msg_id or f"item:{item.id}")


async def _media_bytes(client: MpClient, media_id: str) -> bytes:
    return (await client.get_media(media_id))[0]


def _reject(status: int, reason: str) -> web.Response:
    # No detail in the body: a prober learns nothing about which check failed.
    log.warning("wechat_mp callback rejected (%s): %s", status, reason)
    return web.Response(status=status, text=_STATUS_WORDS.get(status, "rejected"))
