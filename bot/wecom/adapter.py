"""WeCom webhook: verify → decrypt → parse → inbox → empty 200 at once; `process` does the work later."""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot import keys
from bot.http import read_limited
from bot.inbox import Item
from bot.outbound import queue_replies
from bot.settings import Settings
from bot.tokens import TokenCache, app_tokens
from bot.wecom.client import WecomClient
from bot.rejections import CallbackRejected
from bot.wecom.crypto import WecomCrypto
from bot.wecom.event import CHANNEL, MalformedEvent, parse, xml_root
from bot.wecom.media import with_image
from bot.wecom.messenger import WecomMessenger
from bot.wecom_kf.adapter import CHANNEL as KF_CHANNEL, offer_kf_event
from bot.wecom_kf.event import kf_event_from
from conversations.messages import ButtonPress

log = logging.getLogger(__name__)

MAX_CALLBACK_BODY = 1024 * 1024
CLIENT: web.AppKey[WecomClient] = web.AppKey("wecom_client")
CRYPTO: web.AppKey[WecomCrypto] = web.AppKey("wecom_crypto")
MESSENGER: web.AppKey[WecomMessenger] = web.AppKey("wecom_messenger")


def setup(app: web.Application, settings: Settings, *, tokens: TokenCache | None = None) -> None:
    """Mount the callback routes and register the messenger; create_app calls it (twice is harmless)."""
    if CLIENT in app:
        return
    wecom = settings.wecom
    if wecom is None:
        raise ValueError("settings.wecom is not configured")
    clock = app[keys.CLOCK]
    app[CRYPTO] = WecomCrypto(wecom.token.get_secret_value(), wecom.encoding_aes_key.get_secret_value(),
                              wecom.corp_id, clock)
    client = WecomClient(api_base=wecom.api_base, corp_id=wecom.corp_id, secret=wecom.secret.get_secret_value(),
                         agent_id=wecom.agent_id, tokens=tokens or app_tokens(app))
    app[CLIENT] = client
    app[MESSENGER] = WecomMessenger(client, clock)
    app[keys.MESSENGERS].register(app[MESSENGER])
    if keys.PROCESSORS in app:
        app[keys.PROCESSORS][CHANNEL] = process
    app.router.add_get("/wecom/callback", verify_url)
    app.router.add_post("/wecom/callback", callback)
    app.cleanup_ctx.append(_client_session)


async def _client_session(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[CLIENT].close()


def _query(request: web.Request, *names: str) -> list[str]:
    # request.query is already URL-decoded: unquoting again would turn a '+' in echostr into a space.
    values = [request.query.get(n, "") for n in names]
    if not all(values):
        raise web.HTTPBadRequest(text="missing query parameters")
    return values


async def verify_url(request: web.Request) -> web.Response:
    sig, ts, nonce, echostr = _query(request, "msg_signature", "timestamp", "nonce", "echostr")
    try:
        plain = request.app[CRYPTO].verify_url(sig, ts, nonce, echostr)
    except CallbackRejected as e:
        log.warning("wecom URL verification refused: %s", type(e).__name__)
        raise _http(e) from None
    return web.Response(text=plain)


def _http(e: CallbackRejected) -> web.HTTPException:
    return web.HTTPForbidden(text="forbidden") if e.status == 403 else web.HTTPBadRequest(text="bad request")


async def callback(request: web.Request) -> web.Response:
    """413 body over 1 MB; 400 missing query fields, malformed envelope or inner XML, undecryptable body;
    403 bad signature or a timestamp more than 5 minutes off (a replay is refused like a forgery).
    """
    body = await read_limited(request, MAX_CALLBACK_BODY)
    sig, ts, nonce = _query(request, "msg_signature", "timestamp", "nonce")
    try:
        xml = request.app[CRYPTO].decrypt(body, sig, ts, nonce)
        root = xml_root(xml)  # parsed once for the kf check and the message itself
        kf = kf_event_from(root)
        if kf is not None:  # 微信客服: a kf event has no FromUserName; it only says "go and sync"
            if KF_CHANNEL in request.app:
                await offer_kf_event(request.app, kf)
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
    fresh = await request.app[keys.INBOX].offer(CHANNEL, parsed.dedupe_id, {"xml": xml}, key=parsed.event.user)
    if not fresh:
        log.info("wecom retry of %s ignored", parsed.dedupe_id)
    return web.Response(text="")


async def process(app: web.Application, item: Item) -> None:
    """Work one stored callback: download a photo, run the engine and send its replies, or a button press."""
    parsed = parse(item.payload["xml"])
    event = parsed.event
    if isinstance(event, ButtonPress):
        if keys.CARD_ACTIONS not in app:
            log.warning("wecom button press %s dropped: no card actions registered", parsed.dedupe_id)
            return
        await app[keys.CARD_ACTIONS](event)
        return
    if event is None:
        return
    msg = await with_image(app[CLIENT], event, parsed.media_id) if parsed.media_id else event
    replies = await app[keys.ENGINE].handle(msg)
    # Through the outbox: a WeCom outage delays the answers instead of losing them.
    await queue_replies(app, CHANNEL, msg.user, "", replies, parsed.dedupe_id)
