"""A fake WeCom server API speaking the real wire format, for the simulator and tests (never production)."""
from __future__ import annotations

import secrets
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from bot.sim.bounded import ENTRIES, NewestDict
from bot.sim.fake_api import FakeWechatApi, route
from store.clock import Clock

# errcodes the fake answers with, as WeCom does (the response_code one is the fake's choice: WeCom's is
# not documented, so the client must treat any refusal of an update as final).
INVALID_CORPID, INVALID_SECRET, INVALID_TOKEN, TOKEN_EXPIRED = 40013, 40001, 40014, 42001
INVALID_MSGTYPE, BAD_PARAM, NO_RECIPIENT = 40008, 40058, 81013
TASK_ID_USED, CHAT_NOT_FOUND = 42014, 86003


class FakeWecom(FakeWechatApi):
    """WeCom's app API: tokens with expiry per the injected clock, what was sent, media, chats, faults.

    Routes: cgi-bin/gettoken, message/send, message/update_template_card, appchat/create, appchat/send,
    media/get, media/upload; and `_sent?user=` (what was sent, in order), `_faults` (see bot/sim/fake_api.py),
    `_media` (raw body → a media_id) to inspect and steer it.
    """

    PREFIX = "/sim/wecom"
    KEY: web.AppKey[FakeWecom] = web.AppKey("fake_wecom")
    NAME = "wecom"
    INVALID_TOKEN, TOKEN_EXPIRED = INVALID_TOKEN, TOKEN_EXPIRED
    BAD_JSON = (BAD_PARAM, "invalid json")

    def __init__(self, corp_id: str, secret: str, clock: Clock, token_ttl: int = 7200,
                 known_users: set[str] | None = None) -> None:
        super().__init__(clock, token_ttl)
        self.corp_id = corp_id
        self.secret = secret
        self.known_users = known_users   # None: every userid exists
        self.response_codes: dict[str, dict[str, Any]] = NewestDict()
        # task_ids WeCom has seen (it refuses a reuse forever; the fake remembers the last 10 x ENTRIES).
        self.task_ids: dict[str, None] = NewestDict(10 * ENTRIES)
        self.chats: dict[str, dict[str, Any]] = NewestDict()

    # --- steering (tests, simulator) --------------------------------------------------------------


    def add_chat(self, chatid: str, name: str = "", userlist: list[str] | None = None) -> None:
        self.chats[chatid] = {"name": name, "userlist": userlist or []}

    def click_code(self, user: str, task_id: str) -> str:
        """A fresh response_code, as WeCom puts into the template_card_event of a click."""
        code = "RC" + secrets.token_hex(12)
        self.response_codes[code] = {"user": user, "task_id": task_id, "used": False}
        return code

    def recipient(self, entry: dict[str, Any]) -> str:
        return str(entry.get("user", ""))

    # --- the API -----------------------------------------------------------------------------------

    @route("GET", "/cgi-bin/gettoken", "token")
    async def gettoken(self, request: web.Request) -> web.Response:
        self.refuse_credentials(request.query, [("corpid", self.corp_id, INVALID_CORPID, "invalid corpid"),
                                                ("corpsecret", self.secret, INVALID_SECRET, "invalid credential")])
        return self.ok(access_token=self.issue_token(), expires_in=self.token_ttl)

    @route("POST", "/cgi-bin/message/send")
    async def message_send(self, request: web.Request) -> web.Response:
        body = await self.json_body(request)
        user, msgtype = body.get("touser", ""), body.get("msgtype", "")
        if not user or msgtype not in ("text", "markdown", "template_card", "image", "news"):
            return self.err(INVALID_MSGTYPE if user else BAD_PARAM)
        if self.known_users is not None and user not in self.known_users:
            return self.err(NO_RECIPIENT, "all touser invalid")
        extra: dict[str, Any] = {}
        if msgtype == "template_card":
            card = body.get("template_card") or {}
            task = card.get("task_id", "")
            if card.get("card_type") == "button_interaction":
                if not task or task in self.task_ids or len(task) > 128:
                    return self.err(TASK_ID_USED, "taskid has existed or empty or exceed max len")
                self.task_ids[task] = None
                extra["response_code"] = self.click_code(user, task)
        msgid = secrets.token_hex(16)
        self.record(kind="message", user=user, msgtype=msgtype, payload=body, msgid=msgid, **extra)
        return self.ok(invaliduser="", msgid=msgid, **extra)

    @route("POST", "/cgi-bin/message/update_template_card")
    async def update_card(self, request: web.Request) -> web.Response:
        body = await self.json_body(request)
        entry = self.response_codes.get(body.get("response_code", ""))
        if entry is None or entry["used"]:
            return self.err(BAD_PARAM, "invalid response_code")
        entry["used"] = True
        self.record(kind="card_update", user=entry["user"], task_id=entry["task_id"], payload=body)
        return self.ok()

    @route("POST", "/cgi-bin/appchat/create")
    async def appchat_create(self, request: web.Request) -> web.Response:
        body = await self.json_body(request)
        chatid = body.get("chatid") or secrets.token_hex(8)
        self.add_chat(chatid, body.get("name", ""), body.get("userlist", []))
        return self.ok(chatid=chatid)

    @route("POST", "/cgi-bin/appchat/send")
    async def appchat_send(self, request: web.Request) -> web.Response:
        body = await self.json_body(request)
        chatid, msgtype = body.get("chatid", ""), body.get("msgtype", "")
        if chatid not in self.chats:
            return self.err(CHAT_NOT_FOUND, "chatid not found")
        if msgtype not in ("text", "markdown", "image", "news", "file"):
            return self.err(INVALID_MSGTYPE, "invalid message type")  # template_card among them
        self.record(kind="appchat", chat=chatid, msgtype=msgtype, payload=body)
        return self.ok()


    @route("POST", "/cgi-bin/media/upload")
    async def media_upload(self, request: web.Request) -> web.Response:
        reader = await request.multipart()
        async for part in reader:
            if part.name == "media":
                data = await part.read()
                media_id = self.add_media(bytes(data), part.headers.get("Content-Type", "application/octet-stream"))
                return self.ok(type=request.query.get("type", "file"), media_id=media_id,
                               created_at=str(int(self.clock.now().timestamp())))
        return self.err(BAD_PARAM, "no media field")

    @route("POST", "/_media", "steer")
    async def media_route(self, request: web.Request) -> web.Response:
        data = await request.read()
        return self.ok(media_id=self.add_media(data, request.content_type or "image/jpeg"))


FAKE_WECOM = FakeWecom.KEY


def setup_fake_wecom(app: web.Application, prefix: str = FakeWecom.PREFIX, *, corp_id: str, secret: str,
                     clock: Clock) -> FakeWecom:
    """FakeWecom.mount, by its older name."""
    return FakeWecom.mount(app, prefix, corp_id=corp_id, secret=secret, clock=clock)


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
