"""A fake WeCom server API speaking the real wire format, for the simulator and tests (never production)."""
from __future__ import annotations

import asyncio
import json
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from bot.sim.bounded import BLOBS, ENTRIES, NewestDict, NewestList
from store.clock import Clock

# errcodes the fake answers with, as WeCom does (the response_code one is the fake's choice: WeCom's is
# not documented, so the client must treat any refusal of an update as final).
INVALID_CORPID, INVALID_SECRET, INVALID_TOKEN, TOKEN_EXPIRED = 40013, 40001, 40014, 42001
INVALID_MEDIA, INVALID_MSGTYPE, BAD_PARAM, NO_RECIPIENT = 40007, 40008, 40058, 81013
TASK_ID_USED, CHAT_NOT_FOUND = 42014, 86003


@dataclass
class FakeWecom:
    """State of the fake: tokens with expiry per the injected clock, what was sent, media, injected faults."""

    corp_id: str
    secret: str
    clock: Clock
    token_ttl: int = 7200
    known_users: set[str] | None = None   # None: every userid exists
    # Everything it keeps is bounded (bot/sim/bounded.py): the newest entries of each.
    sent: list[dict[str, Any]] = field(default_factory=NewestList)
    calls: list[tuple[str, int]] = field(default_factory=NewestList)   # (path, errcode) of every API call
    gettoken_calls: int = 0

    def __post_init__(self) -> None:
        self.tokens: dict[str, float] = NewestDict()
        self.response_codes: dict[str, dict[str, Any]] = NewestDict()
        # task_ids WeCom has seen (it refuses a reuse forever; the fake remembers the last 10 x ENTRIES).
        self.task_ids: dict[str, None] = NewestDict(10 * ENTRIES)
        self.chats: dict[str, dict[str, Any]] = NewestDict()
        self.media: dict[str, tuple[bytes, str]] = NewestDict(BLOBS)
        self.faults: deque[int] = deque()
        self.outage_until: datetime | None = None
        self.outage_errcode = 0                   # 0: HTTP 500, else this errcode (45009, -1, …)
        self.hold: asyncio.Event | None = None    # set: API calls wait for it (a platform that hangs)
        self._seq = 0

    # --- steering (tests, simulator) --------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every issued token now answers 42001, as after 7200 s."""
        now = self.clock.now().timestamp()
        for t, exp in self.tokens.items():
            self.tokens[t] = min(exp, now)

    def fail_next(self, errcode: int, count: int = 1) -> None:
        """The next `count` API calls (not gettoken) answer `errcode`."""
        self.faults.extend([errcode] * count)

    def outage(self, seconds: float, errcode: int = 0) -> None:
        """Every call, gettoken included, fails for `seconds` of the clock: HTTP 500, or `errcode`."""
        self.outage_until = self.clock.now() + timedelta(seconds=seconds)
        self.outage_errcode = errcode

    def _outage_answer(self) -> web.Response | None:
        if self.outage_until is None or self.clock.now() >= self.outage_until:
            return None
        if self.outage_errcode:
            return _err(self.outage_errcode, "api freq out of limit" if self.outage_errcode == 45009 else "")
        return web.Response(status=500, text="fake wecom: internal error")

    def add_media(self, data: bytes, content_type: str = "image/jpeg") -> str:
        media_id = "MEDIA" + secrets.token_hex(16)
        self.media[media_id] = (data, content_type)
        return media_id

    def add_chat(self, chatid: str, name: str = "", userlist: list[str] | None = None) -> None:
        self.chats[chatid] = {"name": name, "userlist": userlist or []}

    def click_code(self, user: str, task_id: str) -> str:
        """A fresh response_code, as WeCom puts into the template_card_event of a click."""
        code = "RC" + secrets.token_hex(12)
        self.response_codes[code] = {"user": user, "task_id": task_id, "used": False}
        return code

    def sent_to(self, user: str | None = None) -> list[dict[str, Any]]:
        return [s for s in self.sent if user is None or s.get("user") == user]

    # --- internals ---------------------------------------------------------------------------------

    def _record(self, kind: str, **item: Any) -> dict[str, Any]:
        self._seq += 1
        entry = {"id": self._seq, "kind": kind, "at": self.clock.now().isoformat(), **item}
        self.sent.append(entry)
        return entry

    def _check_token(self, request: web.Request) -> int:
        if self.faults:
            return self.faults.popleft()
        exp = self.tokens.get(request.query.get("access_token", ""))
        if exp is None:
            return INVALID_TOKEN
        if exp <= self.clock.now().timestamp():
            return TOKEN_EXPIRED
        return 0


def _err(code: int, msg: str = "") -> web.Response:
    return web.json_response({"errcode": code, "errmsg": msg or f"fake wecom error {code}"})


def _ok(**data: Any) -> web.Response:
    return web.json_response({"errcode": 0, "errmsg": "ok", **data},
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


FAKE_WECOM: web.AppKey[FakeWecom] = web.AppKey("fake_wecom")


def setup_fake_wecom(app: web.Application, prefix: str = "/sim/wecom", *, corp_id: str, secret: str,
                     clock: Clock) -> FakeWecom:
    """Mount the fake on `app`; point settings.wecom.api_base at `<server>{prefix}`.

    Routes: cgi-bin/gettoken, message/send, message/update_template_card, appchat/create, appchat/send,
    media/get, media/upload; and `_sent?user=` (what was sent, in order), `_faults` ({"expire_tokens": true},
    {"errcode": N, "count": K}, or {"outage_seconds": S, "errcode": N} — N 0 or absent: HTTP 500), `_media` (raw body → a media_id) to inspect and steer it.
    """
    fake = FakeWecom(corp_id, secret, clock)
    app[FAKE_WECOM] = fake

    def api(handler):
        async def wrapped(request: web.Request) -> web.Response:
            if fake.hold is not None:
                await fake.hold.wait()
            if (down := fake._outage_answer()) is not None:
                fake.calls.append((request.path, fake.outage_errcode or 500))
                return down
            code = fake._check_token(request)
            if code:
                fake.calls.append((request.path, code))
                return _err(code)
            try:
                resp = await handler(request)
            except (json.JSONDecodeError, UnicodeDecodeError):
                resp = _err(BAD_PARAM, "invalid json")
            fake.calls.append((request.path, json.loads(resp.body).get("errcode", 0)
                               if resp.content_type == "application/json" else 0))
            return resp
        return wrapped

    async def gettoken(request: web.Request) -> web.Response:
        fake.gettoken_calls += 1
        if (down := fake._outage_answer()) is not None:
            return down
        if not secrets.compare_digest(request.query.get("corpid", ""), fake.corp_id):
            return _err(INVALID_CORPID, "invalid corpid")
        if not secrets.compare_digest(request.query.get("corpsecret", ""), fake.secret):
            return _err(INVALID_SECRET, "invalid credential")
        token = secrets.token_urlsafe(32)
        fake.tokens[token] = fake.clock.now().timestamp() + fake.token_ttl
        return _ok(access_token=token, expires_in=fake.token_ttl)

    async def message_send(request: web.Request) -> web.Response:
        body = await request.json()
        user, msgtype = body.get("touser", ""), body.get("msgtype", "")
        if not user or msgtype not in ("text", "markdown", "template_card", "image", "news"):
            return _err(INVALID_MSGTYPE if user else BAD_PARAM)
        if fake.known_users is not None and user not in fake.known_users:
            return _err(NO_RECIPIENT, "all touser invalid")
        extra: dict[str, Any] = {}
        if msgtype == "template_card":
            card = body.get("template_card") or {}
            task = card.get("task_id", "")
            if card.get("card_type") == "button_interaction":
                if not task or task in fake.task_ids or len(task) > 128:
                    return _err(TASK_ID_USED, "taskid has existed or empty or exceed max len")
                fake.task_ids[task] = None
                code = "RC" + secrets.token_hex(12)
                fake.response_codes[code] = {"user": user, "task_id": task, "used": False}
                extra["response_code"] = code
        msgid = secrets.token_hex(16)
        fake._record("message", user=user, msgtype=msgtype, payload=body, msgid=msgid, **extra)
        return _ok(invaliduser="", msgid=msgid, **extra)

    async def update_card(request: web.Request) -> web.Response:
        body = await request.json()
        entry = fake.response_codes.get(body.get("response_code", ""))
        if entry is None or entry["used"]:
            return _err(BAD_PARAM, "invalid response_code")
        entry["used"] = True
        fake._record("card_update", user=entry["user"], task_id=entry["task_id"], payload=body)
        return _ok()

    async def appchat_create(request: web.Request) -> web.Response:
        body = await request.json()
        chatid = body.get("chatid") or secrets.token_hex(8)
        fake.add_chat(chatid, body.get("name", ""), body.get("userlist", []))
        return _ok(chatid=chatid)

    async def appchat_send(request: web.Request) -> web.Response:
        body = await request.json()
        chatid, msgtype = body.get("chatid", ""), body.get("msgtype", "")
        if chatid not in fake.chats:
            return _err(CHAT_NOT_FOUND, "chatid not found")
        if msgtype not in ("text", "markdown", "image", "news", "file"):
            return _err(INVALID_MSGTYPE, "invalid message type")  # template_card among them
        fake._record("appchat", chat=chatid, msgtype=msgtype, payload=body)
        return _ok()

    async def media_get(request: web.Request) -> web.Response:
        found = fake.media.get(request.query.get("media_id", ""))
        if found is None:
            return _err(INVALID_MEDIA, "invalid media_id")  # JSON with HTTP 200, as WeCom does
        data, ctype = found
        return web.Response(body=data, content_type=ctype)

    async def media_upload(request: web.Request) -> web.Response:
        reader = await request.multipart()
        async for part in reader:
            if part.name == "media":
                data = await part.read()
                media_id = fake.add_media(bytes(data), part.headers.get("Content-Type", "application/octet-stream"))
                return _ok(type=request.query.get("type", "file"), media_id=media_id,
                           created_at=str(int(fake.clock.now().timestamp())))
        return _err(BAD_PARAM, "no media field")

    async def sent(request: web.Request) -> web.Response:
        return web.json_response({"sent": fake.sent_to(request.query.get("user") or None)},
                                 dumps=lambda o: json.dumps(o, ensure_ascii=False))

    async def faults(request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("expire_tokens"):
            fake.expire_tokens()
        if body.get("outage_seconds"):
            fake.outage(float(body["outage_seconds"]), int(body.get("errcode", 0)))
        elif body.get("errcode"):
            fake.fail_next(int(body["errcode"]), int(body.get("count", 1)))
        return _ok()

    async def add_media(request: web.Request) -> web.Response:
        data = await request.read()
        return _ok(media_id=fake.add_media(data, request.content_type or "image/jpeg"))

    p = prefix.rstrip("/")
    app.router.add_get(f"{p}/cgi-bin/gettoken", gettoken)
    app.router.add_post(f"{p}/cgi-bin/message/send", api(message_send))
    app.router.add_post(f"{p}/cgi-bin/message/update_template_card", api(update_card))
    app.router.add_post(f"{p}/cgi-bin/appchat/create", api(appchat_create))
    app.router.add_post(f"{p}/cgi-bin/appchat/send", api(appchat_send))
    app.router.add_get(f"{p}/cgi-bin/media/get", api(media_get))
    app.router.add_post(f"{p}/cgi-bin/media/upload", api(media_upload))
    app.router.add_get(f"{p}/_sent", sent)
    app.router.add_post(f"{p}/_faults", faults)
    app.router.add_post(f"{p}/_media", add_media)
    return fake


# --- callbacks the way WeCom builds them (plaintext XML; encrypt with bot.wecom.crypto) ---------------

def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def callback_xml(corp_id: str, user: str, create_time: int, msg_type: str, agent_id: int = 1,
                 **fields: str | int) -> str:
    """<xml> for one callback; `fields` become elements (strings as CDATA, numbers as text)."""
    parts = [f"<ToUserName>{_cdata(corp_id)}</ToUserName>", f"<FromUserName>{_cdata(user)}</FromUserName>",
             f"<CreateTime>{create_time}</CreateTime>", f"<MsgType>{_cdata(msg_type)}</MsgType>"]
    for name, value in fields.items():
        parts.append(f"<{name}>{_cdata(value) if isinstance(value, str) else escape(str(value))}</{name}>")
    parts.append(f"<AgentID>{agent_id}</AgentID>")
    return "<xml>" + "".join(parts) + "</xml>"
