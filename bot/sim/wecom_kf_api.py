"""A fake WeCom kf API (gettoken, kf/sync_msg with cursors and has_more, kf/send_msg with its limits,
media/get) for tests and the simulator. Error codes marked "fake" are this fake's own choice."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.sim.bounded import NewestList
from bot.sim.fake_api import FakeWechatApi, route
from store.clock import Clock

WINDOW = timedelta(hours=48)
PER_MESSAGE = 5
FAKE_LIMIT_CODE = 95999   # fake: outside 48 h or over 5 messages
FAKE_BAD_CURSOR = 95998   # fake: a cursor this fake never issued
BAD_MSG_TOKEN = 95007


class FakeKf(FakeWechatApi):
    """WeCom kf API: messages queued per kf account with cursors, the 48 h / 5 message send limits.

    Routes: cgi-bin/gettoken (its own, so nothing collides with the WeCom app fake under /sim/wecom),
    kf/sync_msg, kf/send_msg, media/get; `_sent`, `_faults` (see bot/sim/fake_api.py) and `_say` to inspect
    and steer it.
    """

    PREFIX = "/sim/wecom-kf"
    KEY: web.AppKey[FakeKf] = web.AppKey("fake_wecom_kf")
    NAME = "wecom_kf"
    INVALID_TOKEN, TOKEN_EXPIRED = 40014, 42001
    BAD_JSON = (47001, "data format error")
    ONE_TOKEN = True

    def __init__(self, clock: Clock | None = None, corp_id: str = "ww-test-corp", secret: str = "wecom-secret",
                 page_size: int = 1000) -> None:
        super().__init__(clock or Clock())
        self.corp_id = corp_id
        self.secret = secret
        self.page_size = page_size     # lower it to make sync_msg page with has_more
        # open_kfid → messages in order; fed by tests alone and its cursors are positions: not trimmed.
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.event_tokens: set[str] = set()
        self.sync_calls: list[dict[str, Any]] = NewestList()
        self.last_wrote: dict[tuple[str, str], datetime] = {}
        self.sent_since: dict[tuple[str, str], int] = {}
        self._queued = 0

    # --- the customer's side (tests, simulator) ------------------------------------------------------

    def _add(self, open_kfid: str, item: dict[str, Any]) -> str:
        self._queued += 1
        msgid = item.setdefault("msgid", f"msg{self._queued:06d}{secrets.token_hex(4)}")
        item.setdefault("send_time", int(self.clock.now().timestamp()))
        item["open_kfid"] = open_kfid
        self.messages.setdefault(open_kfid, []).append(item)
        return msgid

    def customer_says(self, open_kfid: str, external_userid: str, text: str | None = None, *,
                      image_media_id: str | None = None, voice_media_id: str | None = None,
                      msgtype: str | None = None, body: dict[str, Any] | None = None) -> str:
        """A WeChat customer writes (origin 3): their 48 h window opens and the 5-message count restarts."""
        if image_media_id is not None:
            msgtype, body = "image", {"media_id": image_media_id}
        elif voice_media_id is not None:
            msgtype, body = "voice", {"media_id": voice_media_id}
        elif text is not None:
            msgtype, body = "text", {"content": text}
        item = {"external_userid": external_userid, "origin": 3, "msgtype": msgtype, msgtype: body or {}}
        self.last_wrote[(open_kfid, external_userid)] = self.clock.now()
        self.sent_since[(open_kfid, external_userid)] = 0
        return self._add(open_kfid, item)

    def servicer_says(self, open_kfid: str, external_userid: str, text: str) -> str:
        return self._add(open_kfid, {"external_userid": external_userid, "origin": 5, "servicer_userid": "zhangsan",
                                     "msgtype": "text", "text": {"content": text}})

    def system_event(self, open_kfid: str, external_userid: str, event_type: str = "enter_session") -> str:
        return self._add(open_kfid, {"origin": 4, "msgtype": "event", "event": {
            "event_type": event_type, "open_kfid": open_kfid, "external_userid": external_userid}})

    def event_xml(self, open_kfid: str) -> str:
        """The decrypted callback WeCom sends to the app when kf messages are waiting."""
        token = "ENC" + secrets.token_urlsafe(24)
        self.event_tokens.add(token)
        return (f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
                f"<CreateTime>{int(self.clock.now().timestamp())}</CreateTime>"
                f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
                f"<Token><![CDATA[{token}]]></Token><OpenKfId><![CDATA[{open_kfid}]]></OpenKfId></xml>")

    # --- the API -----------------------------------------------------------------------------------

    @route("GET", "/cgi-bin/gettoken", "token")
    async def gettoken(self, request: web.Request) -> web.Response:
        self.refuse_credentials(request.query, [("corpid", self.corp_id, 40013, "invalid corpid"),
                                                ("corpsecret", self.secret, 40001, "invalid secret")])
        return self.ok(access_token=self.issue_token("kf-"), expires_in=self.token_ttl)

    @route("POST", "/cgi-bin/kf/sync_msg")
    async def sync_msg(self, request: web.Request) -> web.Response:
        body = await self.json_body(request)
        self.sync_calls.append(body)
        if body.get("token") and body["token"] not in self.event_tokens:
            return self.err(BAD_MSG_TOKEN, "invalid msg token")
        queue = self.messages.get(str(body.get("open_kfid", "")), [])
        cursor = str(body.get("cursor") or "")
        if cursor and not (cursor.startswith("c") and cursor[1:].isdigit()):
            return self.err(FAKE_BAD_CURSOR, "invalid cursor")
        start = int(cursor[1:]) if cursor else 0
        limit = max(1, min(int(body.get("limit") or 1000), 1000, self.page_size))
        page = queue[start:start + limit]
        end = start + len(page)
        return self.ok(next_cursor=f"c{end}", has_more=1 if end < len(queue) else 0, msg_list=page)

    @route("POST", "/cgi-bin/kf/send_msg")
    async def send_msg(self, request: web.Request) -> web.Response:
        body = await self.json_body(request)
        who = (str(body.get("open_kfid", "")), str(body.get("touser", "")))
        wrote = self.last_wrote.get(who)
        if wrote is None or self.clock.now() - wrote > WINDOW or self.sent_since.get(who, 0) >= PER_MESSAGE:
            return self.err(FAKE_LIMIT_CODE, "outside 48 h or over 5 messages (fake)")
        self.sent_since[who] = self.sent_since.get(who, 0) + 1
        msgid = str(body.get("msgid") or f"out{self._seq + 1:06d}")
        self.record(**{**body, "msgid": msgid})
        return self.ok(msgid=msgid)


    @route("POST", "/_say", "steer")
    async def say_route(self, request: web.Request) -> web.Response:
        """Simulator: queue a customer message; answers the callback XML the app would receive."""
        data = await request.json()
        self.customer_says(str(data["open_kfid"]), str(data["external_userid"]), str(data.get("text", "")))
        return web.json_response({"event_xml": self.event_xml(str(data["open_kfid"]))})


FAKE_KF = FakeKf.KEY


def setup_fake_kf(app: web.Application, prefix: str = FakeKf.PREFIX, *, clock: Clock | None = None,
                  corp_id: str = "ww-test-corp", secret: str = "wecom-secret") -> FakeKf:
    """FakeKf.mount, by its older name."""
    return FakeKf.mount(app, prefix, clock=clock, corp_id=corp_id, secret=secret)
