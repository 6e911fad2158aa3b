"""WeCom channel: webhook verify → decrypt → parse → inbox → empty 200 at once; `process` does the work later."""
from __future__ import annotations

import logging

from aiohttp import web

from bot.channel import Channel, ChannelParts
from bot.http import read_limited
from bot.rejections import CallbackRejected
from bot.settings import Settings
from bot.wecom import render
from bot.wecom.client import WecomClient
from bot.wecom.errors import WecomError
from bot.wecom.crypto import WecomCrypto
from bot.wecom.event import CHANNEL, MalformedEvent, parse, xml_root
from bot.voice import with_recording
from bot.wecom.media import with_image
from bot.wecom.messenger import WecomMessenger
from bot.wecom_kf.adapter import offer_kf_event
from bot.wecom_kf.event import kf_event_from
from conversations.messages import ButtonPress
from dispatch.cards import Card
from relay.inbox import Item

log = logging.getLogger(__name__)

MAX_CALLBACK_BODY = 1024 * 1024


class WecomChannel(Channel):
    """The self-built app: `/wecom/callback` (URL check and messages, button clicks, kf events)."""

    name = CHANNEL

    def __init__(self, settings: Settings, parts: ChannelParts) -> None:
        wecom = settings.wecom
        if wecom is None:
            raise ValueError("settings.wecom is not configured")
        self.crypto = WecomCrypto(wecom.token.get_secret_value(), wecom.encoding_aes_key.get_secret_value(),
                                  wecom.corp_id, parts.clock)
        self.client = WecomClient(api_base=wecom.api_base, corp_id=wecom.corp_id,
                                  secret=wecom.secret.get_secret_value(), agent_id=wecom.agent_id,
                                  tokens=parts.tokens)
        self.messenger = WecomMessenger(self.client, parts.clock)
        self.inbox = parts.inbox
        self.conversations = parts.conversations
        self.outbox_writer = parts.outbox_writer
        self.card_actions = parts.card_actions
        self.texts = parts.texts

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/wecom/callback", self.verify_url), web.post("/wecom/callback", self.callback)]

    async def close(self) -> None:
        await self.client.close()

    async def verify_url(self, request: web.Request) -> web.Response:
        sig, ts, nonce, echostr = _query(request, "msg_signature", "timestamp", "nonce", "echostr")
        try:
            plain = self.crypto.verify_url(sig, ts, nonce, echostr)
        except CallbackRejected as e:
            log.warning("wecom URL verification refused: %s", type(e).__name__)
            raise _http(e) from None
        return web.Response(text=plain)

    async def callback(self, request: web.Request) -> web.Response:
        """413 body over 1 MB; 400 missing query fields, malformed envelope or inner XML, undecryptable body;
        403 bad signature or a timestamp more than 5 minutes off (a replay is refused like a forgery).
        """
        body = await read_limited(request, MAX_CALLBACK_BODY)
        sig, ts, nonce = _query(request, "msg_signature", "timestamp", "nonce")
        try:
            xml = self.crypto.decrypt(body, sig, ts, nonce)
            root = xml_root(xml)  # parsed once for the kf check and the message itself
            kf = kf_event_from(root)
            if kf is not None:  # 微信客服: a kf event has no FromUserName; it only says "go and sync"
                await offer_kf_event(self.inbox, kf)
                return web.Response(text="")
            parsed = parse(root)
        except CallbackRejected as e:
            log.warning("wecom callback refused: %s", type(e).__name__)
            raise _http(e) from None
        except MalformedEvent:
            log.warning("wecom callback with malformed inner XML")
            raise web.HTTPBadRequest(text="bad request") from None
        if parsed.event is None:
            log.info("wecom %s callback ignored", parsed.kind or "unknown")
            return web.Response(text="")
        fresh = await self.inbox.offer(CHANNEL, parsed.dedupe_id, {"xml": xml}, key=parsed.event.user)
        if not fresh:
            log.info("wecom retry of %s ignored", parsed.dedupe_id)
        return web.Response(text="")

    async def process(self, item: Item) -> None:
        """Work one stored callback: download a photo or a voice note, run the conversation and queue its
        replies, or a press."""
        parsed = parse(item.payload["xml"])
        event = parsed.event
        if isinstance(event, ButtonPress):
            await self.card_actions.press_and_reply(event)
            return
        if event is None:
            return
        msg = event
        if parsed.media_id and event.voice:
            msg = await with_recording(event, lambda: self._media(parsed.media_id), event.audio_format)
        elif parsed.media_id:
            msg = await with_image(self.client, event, parsed.media_id)
        replies = await self.conversations.handle(msg)
        # Through the outbox: a WeCom outage delays the answers instead of losing them.
        await self.outbox_writer.queue_replies(CHANNEL, msg.user, "", replies,
                                               msg.message_id if parsed.response_code else parsed.dedupe_id)
        if parsed.response_code:
            await self._grey_answered(parsed.response_code, msg.text)

    async def _media(self, media_id: str) -> bytes:
        return (await self.client.media_get(media_id))[0]

    async def _grey_answered(self, code: str, option: str) -> None:
        """The pressed question's buttons give way to the answer chosen, so it is not pressed twice. Best
        effort: the answer is already taken, and a second press is answered as having nothing to answer."""
        body = render.settled_update(Card(title="", status=self.texts.render("channels/option_chosen.j2",
                                                                              option=option)),
                                     code, self.client.agent_id)
        try:
            await self.client.update_template_card(body)
        except WecomError as e:
            log.info("wecom: greying an answered question failed (%s)", e.code)


def _query(request: web.Request, *names: str) -> list[str]:
    # request.query is already URL-decoded: unquoting again would turn a '+' in echostr into a space.
    values = [request.query.get(n, "") for n in names]
    if not all(values):
        raise web.HTTPBadRequest(text="missing query parameters")
    return values


def _http(e: CallbackRejected) -> web.HTTPException:
    return web.HTTPForbidden(text="forbidden") if e.status == 403 else web.HTTPBadRequest(text="bad request")
