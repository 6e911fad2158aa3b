"""WeCom kf (customer service) channel: a kf event → sync_msg pages → each customer message into the inbox →
conversation → send_msg.

The event itself arrives on the WeCom app's callback (bot.wecom); that channel hands it over with
`offer_kf_event`. Both kinds of inbox item, CHANNEL "wecom_kf", are worked by `WecomKfChannel.process`.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import datetime, timezone

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channel import Channel, ChannelParts
from bot.settings import Settings
from bot.voice import with_recording
from bot.wechat_mp.window import ReplyWindow
from bot.wecom.errors import WecomError
from bot.wecom_kf.client import SYNC_LIMIT, KfClient
from bot.wecom_kf.event import KfEvent, KfMessage, is_customer_message, to_message
from bot.wecom_kf.messenger import WecomKfMessenger
from conversations.messages import InboundMessage, Reply
from relay.inbox import Inbox, Item
from store.models import KeyValue

log = logging.getLogger(__name__)

CHANNEL = "wecom_kf"
PER_MESSAGE = 5          # messages we may send per customer message
WINDOW_SECONDS = 48 * 3600
MAX_PAGES = 100          # a runaway has_more must not loop forever


class Cursors:
    """sync_msg's next_cursor per kf account, in the kv table: a restart continues where it stopped."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @staticmethod
    def key(open_kfid: str) -> str:
        key = f"kf:cursor:{open_kfid}"
        return key if len(key) <= 64 else "kf:cursor:#" + hashlib.sha1(open_kfid.encode()).hexdigest()

    async def get(self, open_kfid: str) -> str:
        async with self._sessions() as session:
            value = (await session.execute(select(KeyValue.value).where(KeyValue.key == self.key(open_kfid)))
                     ).scalar_one_or_none()
        return value or ""

    async def advance(self, open_kfid: str, old: str, new: str) -> bool:
        """Move from `old` to `new`; False when another worker moved it first (it owns the rest)."""
        if new == old:
            return True
        async with self._sessions() as session, session.begin():
            if old == "":
                insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
                result = await session.execute(insert(KeyValue).values(key=self.key(open_kfid), value=new)
                                               .on_conflict_do_nothing(index_elements=[KeyValue.key]))
            else:
                result = await session.execute(update(KeyValue).where(KeyValue.key == self.key(open_kfid),
                                                                      KeyValue.value == old).values(value=new))
            return result.rowcount == 1


async def offer_kf_event(inbox: Inbox, ev: KfEvent) -> bool:
    """For the WeCom callback: store the event durably and answer at once; False for a retry."""
    return await inbox.offer(CHANNEL, ev.dedupe_id, {"kf_event": ev.to_dict()}, key=ev.open_kfid)


class WecomKfChannel(Channel):
    """On whenever [wecom] is: the same app's secret; its events come through the WeCom channel's callback."""

    name = CHANNEL

    def __init__(self, settings: Settings, parts: ChannelParts) -> None:
        wecom = settings.wecom
        if wecom is None:
            raise ValueError("settings.wecom is not configured")
        self.clock = parts.clock
        self.client = KfClient(api_base=wecom.api_base, corp_id=wecom.corp_id,
                               secret=wecom.secret.get_secret_value(), agent_id=wecom.agent_id, tokens=parts.tokens)
        self.window = ReplyWindow(parts.sessions, parts.clock, "kf:win", seconds=WINDOW_SECONDS,
                                  per_message=PER_MESSAGE)
        self.cursors = Cursors(parts.sessions)
        self.messenger = WecomKfMessenger(self.client, self.window)
        self.locks: dict[str, asyncio.Lock] = {}
        self.inbox = parts.inbox
        self.conversations = parts.conversations
        self.outbox_writer = parts.outbox_writer
        self.texts = parts.texts

    async def close(self) -> None:
        await self.client.close()

    async def process(self, item: Item) -> None:
        """One "wecom_kf" inbox item: a kf event (sync) or one customer message (conversation + reply)."""
        if "kf_event" in item.payload:
            await self.process_kf(KfEvent(**item.payload["kf_event"]))
        elif "msg" in item.payload:
            await self.process_message(item.payload["msg"])
        else:
            log.warning("wecom_kf inbox item %s has neither kf_event nor msg", item.id)

    async def process_kf(self, ev: KfEvent) -> None:
        """Pull every new message of this kf account; each customer message goes to the inbox (de-duplicated on
        msgid), and only then is next_cursor saved: a crash re-reads a page, and the inbox drops the repeats."""
        lock = self.locks.setdefault(ev.open_kfid, asyncio.Lock())
        async with lock:  # one sync per account in this process; Cursors.advance guards across processes
            cursor = await self.cursors.get(ev.open_kfid)
            for _ in range(MAX_PAGES):
                page = await self.client.sync_msg(cursor=cursor, token=ev.token, open_kfid=ev.open_kfid,
                                                  limit=SYNC_LIMIT)
                handed = 0
                for raw in page.get("msg_list") or []:
                    if not isinstance(raw, dict) or not is_customer_message(raw):
                        continue  # system events (origin 4) and servicers' own messages (origin 5)
                    if await self.inbox.offer(CHANNEL, f"msg:{raw['msgid']}", {"msg": raw},
                                              key=str(raw.get("external_userid") or "")):
                        handed += 1
                new_cursor = str(page.get("next_cursor") or cursor)
                if not await self.cursors.advance(ev.open_kfid, cursor, new_cursor):
                    log.info("wecom_kf cursor of %s moved by another worker; leaving the rest to it", ev.open_kfid)
                    return
                log.debug("wecom_kf %s: %d new customer messages handed over", ev.open_kfid, handed)
                cursor = new_cursor
                if not page.get("has_more"):
                    return
            log.warning("wecom_kf %s: still has_more after %d pages; the next event continues", ev.open_kfid,
                        MAX_PAGES)

    async def process_message(self, raw: dict) -> None:
        """One customer message: reopen their window, run the conversation, answer through send_msg."""
        m = to_message(raw)
        at = datetime.fromtimestamp(m.send_time, timezone.utc) if m.send_time else self.clock.now()
        await self.window.opened(m.external_userid, at=at, open_kfid=m.open_kfid)
        if m.kind == "unsupported":
            replies = [Reply(self.texts.render("channels/unsupported.j2"))]
        else:
            replies = await self.conversations.handle(await _inbound(self.client, m))
        # Through the outbox: the 48 h / 5-message limits surface as undeliverable rows, never silence.
        await self.outbox_writer.queue_replies(CHANNEL, m.external_userid, m.open_kfid, replies, f"kf:{m.msgid}")


async def _inbound(client: KfClient, m: KfMessage) -> InboundMessage:
    image, failed = None, False
    if m.kind == "image":
        # Temporary media expires after 3 days: fetch it now.
        try:
            image, _ = await client.media_get(m.media_id)
        except WecomError as e:
            log.warning("wecom_kf media %s not downloaded: %s", m.media_id, e)
            failed = True
    msg = InboundMessage(channel=CHANNEL, chat=m.open_kfid, user=m.external_userid, text=m.text,
                         image=image, image_failed=failed, message_id=m.msgid, voice=m.kind == "voice")
    if m.kind == "voice" and m.media_id:
        # kf gives no transcript: the recording (AMR, temporary media like a photo) is kept with the report.
        async def download() -> bytes:
            return (await client.media_get(m.media_id))[0]
        msg = await with_recording(msg, download, "amr")
    return msg
