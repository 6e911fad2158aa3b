"""A fake WeCom kf API (gettoken, kf/sync_msg with cursors and has_more, kf/send_msg with its limits,
media/get) for tests and the simulator. Error codes marked "fake" are this fake's own choice."""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.sim.bounded import NewestList
from store.clock import Clock

WINDOW = timedelta(hours=48)
PER_MESSAGE = 5
FAKE_LIMIT_CODE = 95999   # fake: outside 48 h or over 5 messages
FAKE_BAD_CURSOR = 95998   # fake: a cursor this fake never issued
BAD_MSG_TOKEN = 95007


@dataclass
class FakeKf:
    clock: Clock
    corp_id: str = "ww-test-corp"
    secret: str = "wecom-secret"
    page_size: int = 1000          # lower it to make sync_msg page with has_more
    token: str = ""
    token_expires: datetime | None = None
    tokens_issued: int = 0
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)   # open_kfid → in order
    event_tokens: set[str] = field(default_factory=set)
    # What the service did, the newest only (bot/sim/bounded.py); `messages` is fed by tests alone and
    # its cursors are positions, so it is not trimmed.
    sync_calls: list[dict[str, Any]] = field(default_factory=NewestList)
    sent: list[dict[str, Any]] = field(default_factory=NewestList)
    sends: int = 0
    last_wrote: dict[tuple[str, str], datetime] = field(default_factory=dict)
    sent_since: dict[tuple[str, str], int] = field(default_factory=dict)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    _seq: int = 0

    def _add(self, open_kfid: str, item: dict[str, Any]) -> str:
        self._seq += 1
        msgid = item.setdefault("msgid", f"msg{self._seq:06d}{secrets.token_hex(4)}")
        item.setdefault("send_time", int(self.clock.now().timestamp()))
        item["open_kfid"] = open_kfid
        self.messages.setdefault(open_kfid, []).append(item)
        return msgid

    def customer_says(self, open_kfid: str, external_userid: str, text: str | None = None, *,
                      image_media_id: str | None = None, msgtype: str | None = None,
                      body: dict[str, Any] | None = None) -> str:
        """A WeChat customer writes (origin 3): their 48 h window opens and the 5-message count restarts."""
        if image_media_id is not None:
            msgtype, body = "image", {"media_id": image_media_id}
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

    def issue_token(self) -> str:
        self.tokens_issued += 1
        self.token = f"kf-{self.tokens_issued}-{secrets.token_hex(6)}"
        self.token_expires = self.clock.now() + timedelta(seconds=7200)
        return self.token

    def token_error(self, token: str) -> int:
        if not token or not self.token or not secrets.compare_digest(token, self.token):
            return 40014
        if self.token_expires is not None and self.clock.now() >= self.token_expires:
            return 42001
        return 0


FAKE_KF: web.AppKey[FakeKf] = web.AppKey("fake_wecom_kf", FakeKf)


def _err(code: int, msg: str, **extra: Any) -> web.Response:
    return web.json_response({"errcode": code, "errmsg": msg, **extra},
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


def setup_fake_kf(app: web.Application, prefix: str = "/sim/wecom-kf", *, clock: Clock | None = None,
                  corp_id: str = "ww-test-corp", secret: str = "wecom-secret") -> FakeKf:
    """Mount the fake under `prefix` (kf's api_base is then http://host:port<prefix>); its own gettoken,
    so nothing collides with the WeCom app fake under /sim/wecom."""
    fake = FakeKf(clock or Clock(), corp_id=corp_id, secret=secret)
    app[FAKE_KF] = fake

    async def gettoken(request: web.Request) -> web.Response:
        q = request.query
        if q.get("corpid") != fake.corp_id:
            return _err(40013, "invalid corpid")
        if not secrets.compare_digest(q.get("corpsecret", ""), fake.secret):
            return _err(40001, "invalid secret")
        return _err(0, "ok", access_token=fake.issue_token(), expires_in=7200)

    async def _body(request: web.Request) -> dict[str, Any] | web.Response:
        code = fake.token_error(request.query.get("access_token", ""))
        if code:
            return _err(code, "invalid access_token")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _err(47001, "data format error")
        return body if isinstance(body, dict) else _err(47001, "data format error")

    async def sync_msg(request: web.Request) -> web.Response:
        body = await _body(request)
        if isinstance(body, web.Response):
            return body
        fake.sync_calls.append(body)
        if body.get("token") and body["token"] not in fake.event_tokens:
            return _err(BAD_MSG_TOKEN, "invalid msg token")
        queue = fake.messages.get(str(body.get("open_kfid", "")), [])
        cursor = str(body.get("cursor") or "")
        if cursor and not (cursor.startswith("c") and cursor[1:].isdigit()):
            return _err(FAKE_BAD_CURSOR, "invalid cursor")
        start = int(cursor[1:]) if cursor else 0
        limit = max(1, min(int(body.get("limit") or 1000), 1000, fake.page_size))
        page = queue[start:start + limit]
        end = start + len(page)
        return _err(0, "ok", next_cursor=f"c{end}", has_more=1 if end < len(queue) else 0, msg_list=page)

    async def send_msg(request: web.Request) -> web.Response:
        body = await _body(request)
        if isinstance(body, web.Response):
            return body
        who = (str(body.get("open_kfid", "")), str(body.get("touser", "")))
        wrote = fake.last_wrote.get(who)
        if wrote is None or fake.clock.now() - wrote > WINDOW or fake.sent_since.get(who, 0) >= PER_MESSAGE:
            return _err(FAKE_LIMIT_CODE, "outside 48 h or over 5 messages (fake)")
        fake.sent_since[who] = fake.sent_since.get(who, 0) + 1
        fake.sends += 1
        msgid = str(body.get("msgid") or f"out{fake.sends:06d}")
        fake.sent.append({**body, "msgid": msgid, "at": fake.clock.now().isoformat()})
        return _err(0, "ok", msgid=msgid)

    async def media_get(request: web.Request) -> web.Response:
        code = fake.token_error(request.query.get("access_token", ""))
        if code:
            return _err(code, "invalid access_token")
        found = fake.media.get(request.query.get("media_id", ""))
        if found is None:
            return _err(40007, "invalid media_id")
        data, ctype = found
        return web.Response(body=data, content_type=ctype)

    async def sent(request: web.Request) -> web.Response:
        return web.json_response(fake.sent, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    async def say(request: web.Request) -> web.Response:
        """Simulator: queue a customer message; answers the callback XML the app would receive."""
        data = await request.json()
        fake.customer_says(str(data["open_kfid"]), str(data["external_userid"]), str(data.get("text", "")))
        return web.json_response({"event_xml": fake.event_xml(str(data["open_kfid"]))})

    app.router.add_get(f"{prefix}/cgi-bin/gettoken", gettoken)
    app.router.add_post(f"{prefix}/cgi-bin/kf/sync_msg", sync_msg)
    app.router.add_post(f"{prefix}/cgi-bin/kf/send_msg", send_msg)
    app.router.add_get(f"{prefix}/cgi-bin/media/get", media_get)
    app.router.add_get(f"{prefix}/_sent", sent)
    app.router.add_post(f"{prefix}/_say", say)
    return fake
