"""WeCom kf processing: a kf event → sync_msg pages → each customer message into the inbox → engine → send_msg.

The event itself arrives on the WeCom app's callback (bot.wecom); that adapter hands it over with
`offer_kf_event`. Both kinds of inbox item, platform "wecom_kf", are worked by `process`.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import keys
from bot.inbox import Item
from bot.outbound import queue_replies
from bot.settings import Settings
from bot.tokens import app_tokens
from bot.wechat_mp.window import ReplyWindow
from bot.wecom.errors import WecomError
from bot.wecom_kf.client import SYNC_LIMIT, KfClient
from bot.wecom_kf.event import KfEvent, KfMessage, is_customer_message, to_message
from bot.wecom_kf.messenger import WecomKfMessenger
from conversations.messages import InboundMessage, Reply
from store.models import KeyValue

log = logging.getLogger(__name__)

PLATFORM = "wecom_kf"
PER_MESSAGE = 5          # messages we may send per customer message
WINDOW_SECONDS = 48 * 3600
MAX_PAGES = 100          # a runaway has_more must not loop forever


class Cursors:
    """sync_msg's next_cursor per kf account, in the kv table: a restart continues where it stopped."""

    def __init__(self, sessions) -> None:
        self._sessions = sessions  # provider: the sessionmaker exists once the app has started

    @staticmethod
    def key(open_kfid: str) -> str:
        key = f"kf:cursor:{open_kfid}"
        return key if len(key) <= 64 else "kf:cursor:#" + hashlib.sha1(open_kfid.encode()).hexdigest()

    async def get(self, open_kfid: str) -> str:
        sessions: async_sessionmaker[AsyncSession] = self._sessions()
        async with sessions() as session:
            value = (await session.execute(select(KeyValue.value).where(KeyValue.key == self.key(open_kfid)))
                     ).scalar_one_or_none()
        return value or ""

    async def advance(self, open_kfid: str, old: str, new: str) -> bool:
        """Move from `old` to `new`; False when another worker moved it first (it owns the rest)."""
        if new == old:
            return True
        async with self._sessions()() as session, session.begin():
            if old == "":
                insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
                result = await session.execute(insert(KeyValue).values(key=self.key(open_kfid), value=new)
                                               .on_conflict_do_nothing(index_elements=[KeyValue.key]))
            else:
                result = await session.execute(update(KeyValue).where(KeyValue.key == self.key(open_kfid),
                                                                      KeyValue.value == old).values(value=new))
            return result.rowcount == 1


@dataclass
class KfChannel:
    client: KfClient
    window: ReplyWindow
    cursors: Cursors
    messenger: WecomKfMessenger
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)


CHANNEL: web.AppKey[KfChannel] = web.AppKey("wecom_kf", KfChannel)


def setup(app: web.Application, settings: Settings, *, api_base: str | None = None) -> KfChannel | None:
    if CHANNEL in app:  # create_app already set it up
        return app[CHANNEL]
    """Register the kf messenger and inbox processor; kf is on whenever [wecom] is configured."""
    wecom = settings.wecom
    if wecom is None:
        return None
    clock = app[keys.CLOCK]
    client = KfClient(api_base=api_base or wecom.api_base, corp_id=wecom.corp_id,
                      secret=wecom.secret.get_secret_value(), agent_id=wecom.agent_id, tokens=app_tokens(app))
    window = ReplyWindow(lambda: app[keys.SESSIONS], clock, "kf:win", seconds=WINDOW_SECONDS,
                         per_message=PER_MESSAGE)
    channel = KfChannel(client, window, Cursors(lambda: app[keys.SESSIONS]), WecomKfMessenger(client, window))
    app[CHANNEL] = channel
    app[keys.MESSENGERS].register(channel.messenger)
    if hasattr(keys, "PROCESSORS") and keys.PROCESSORS in app:
        app[keys.PROCESSORS][PLATFORM] = process

    async def close(_app: web.Application) -> None:
        await client.close()
    app.on_cleanup.append(close)
    return channel


async def offer_kf_event(app: web.Application, ev: KfEvent) -> bool:
    """For the WeCom callback: store the event durably and answer at once; False for a retry."""
    return await app[keys.INBOX].offer(PLATFORM, ev.dedupe_id, {"kf_event": ev.to_dict()}, key=ev.open_kfid)


async def process(app: web.Application, item: Item) -> None:
    """One "wecom_kf" inbox item: a kf event (sync) or one customer message (engine + reply)."""
    if "kf_event" in item.payload:
        await process_kf(app, KfEvent(**item.payload["kf_event"]))
    elif "msg" in item.payload:
        await process_message(app, item.payload["msg"])
    else:
        log.warning("wecom_kf inbox item %s has neither kf_event nor msg", item.id)


async def process_kf(app: web.Application, ev: KfEvent) -> None:
    """Pull every new message of this kf account; each customer message goes to the inbox (de-duplicated on
    msgid), and only then is next_cursor saved: a crash re-reads a page, and the inbox drops the repeats."""
    channel = app[CHANNEL]
    inbox = app[keys.INBOX]
    lock = channel.locks.setdefault(ev.open_kfid, asyncio.Lock())
    async with lock:  # one sync per account in this process; Cursors.advance guards across processes
        cursor = await channel.cursors.get(ev.open_kfid)
        for _ in range(MAX_PAGES):
            page = await channel.client.sync_msg(cursor=cursor, token=ev.token, open_kfid=ev.open_kfid,
                                                 limit=SYNC_LIMIT)
            handed = 0
            for raw in page.get("msg_list") or []:
                if not isinstance(raw, dict) or not is_customer_message(raw):
                    continue  # system events (origin 4) and servicers' own messages (origin 5)
                if await inbox.offer(PLATFORM, f"msg:{raw['msgid']}", {"msg": raw},
                                     key=str(raw.get("external_userid") or "")):
                    handed += 1
            new_cursor = str(page.get("next_cursor") or cursor)
            if not await channel.cursors.advance(ev.open_kfid, cursor, new_cursor):
                log.info("wecom_kf cursor of %s moved by another worker; leaving the rest to it", ev.open_kfid)
                return
            log.debug("wecom_kf %s: %d new customer messages handed over", ev.open_kfid, handed)
            cursor = new_cursor
            if not page.get("has_more"):
                return
        log.warning("wecom_kf %s: still has_more after %d pages; the next event continues", ev.open_kfid,
                    MAX_PAGES)


async def process_message(app: web.Application, raw: dict) -> None:
    """One customer message: reopen their window, run the engine, answer through send_msg."""
    channel = app[CHANNEL]
    m = to_message(raw)
    at = datetime.fromtimestamp(m.send_time, timezone.utc) if m.send_time else app[keys.CLOCK].now()
    await channel.window.opened(m.external_userid, at=at, open_kfid=m.open_kfid)
    if m.kind == "unsupported":
        replies = [Reply(app[keys.ENGINE].deps.texts.render("channels/unsupported.j2"))]
    else:
        replies = await app[keys.ENGINE].handle(await _inbound(channel, m))
    # Through the outbox: the 48 h / 5-message limits surface as undeliverable rows, never silence.
    await queue_replies(app, PLATFORM, m.external_userid, m.open_kfid, replies, f"kf:{m.msgid}")


async def _inbound(channel: KfChannel, m: KfMessage) -> InboundMessage:
    image, failed = None, False
    if m.kind == "image":
        # Temporary media expires after 3 days: fetch it now.
        try:
            image, _ = await channel.client.media_get(m.media_id)
        except WecomError as e:
            log.warning("wecom_kf media %s not downloaded: %s", m.media_id, e)
            failed = True
    return InboundMessage(channel=PLATFORM, chat=m.open_kfid, user=m.external_userid, text=m.text,
                          image=image, image_failed=failed, message_id=m.msgid, voice=m.kind == "voice")
