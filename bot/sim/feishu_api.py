"""A fake Feishu open platform speaking the real wire format, for the simulator and tests (not for production).

Routes under a prefix (default /sim/feishu; point settings.feishu.api_base at `<server>{prefix}`):
open-apis/auth/v3/tenant_access_token/internal, open-apis/bot/v3/info, POST open-apis/im/v1/messages
(honours `uuid` for an hour), PATCH open-apis/im/v1/messages/{id} (only cards sent with update_multi),
GET open-apis/im/v1/messages/{id}/resources/{key}; plus `_sent?receive_id=&msg_type=` and `_faults` (see
bot/sim/fake_api.py) to inspect and steer it.
The platform's other side is here too: `FeishuPusher` builds signed, encrypted callbacks like Feishu does.
"""
from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.feishu.crypto import encrypt, signature
from bot.sim.bounded import BLOBS, NewestDict
from bot.sim.fake_api import FakeApi, route
from bot.sim.fake_api import dumps as _dumps
from store.clock import Clock

# codes the fake answers with, as Feishu does
BAD_APP, BAD_SECRET = 10003, 10014
NO_TOKEN, INVALID_TOKEN, TOKEN_EXPIRED = 99991661, 99991663, 99991668
RATE_LIMITED = 99991400
INTERNAL_ERROR = 1500  # the fake's stand-in for any code Feishu sends with HTTP 500
INVALID_REQUEST, BOT_NOT_IN_CHAT, NOT_VISIBLE = 230001, 230002, 230013
NOT_UPDATE_MULTI, MESSAGE_NOT_FOUND, RESOURCE_NOT_FOUND = 230099, 230011, 234003
UUID_TTL = 3600


class FakeFeishu(FakeApi):
    """Feishu's open platform: tenant tokens (expiry per the injected clock), messages, images, files, faults."""

    PREFIX = "/sim/feishu"
    KEY: web.AppKey[FakeFeishu] = web.AppKey("fake_feishu")
    CODE, MESSAGE, OK_MESSAGE, NAME = "code", "msg", "success", "feishu"
    NO_TOKEN, INVALID_TOKEN, TOKEN_EXPIRED = NO_TOKEN, INVALID_TOKEN, TOKEN_EXPIRED
    BAD_JSON = (INVALID_REQUEST, "invalid json")

    def __init__(self, app_id: str, app_secret: str, clock: Clock, token_ttl: int = 7200,
                 bot_open_id: str = "ou_bot", bot_name: str = "repairbot", chats: set[str] | None = None) -> None:
        super().__init__(clock, token_ttl)
        self.app_id = app_id
        self.app_secret = app_secret
        self.bot_open_id = bot_open_id
        self.bot_name = bot_name
        self.chats = chats                # None: the bot is in every chat
        self.images: dict[str, bytes] = NewestDict(BLOBS)
        self.files: dict[str, bytes] = NewestDict(BLOBS)    # audio recordings and other files of messages
        self.uuids: dict[str, tuple[str, float]] = NewestDict()

    # --- steering (tests, simulator) --------------------------------------------------------------

    def add_image(self, data: bytes, image_key: str = "") -> str:
        key = image_key or "img_v3_" + secrets.token_hex(12)
        self.images[key] = data
        return key

    def add_file(self, data: bytes, file_key: str = "") -> str:
        """A file of a person's message, e.g. an audio message's recording (Opus in Ogg)."""
        key = file_key or "file_v3_" + secrets.token_hex(12)
        self.files[key] = data
        return key

    def sent_to(self, receive_id: str | None = None, msg_type: str | None = None) -> list[dict[str, Any]]:
        return [m for m in self.sent if (receive_id is None or receive_id in (m["receive_id"], m["chat_id"]))
                and (msg_type is None or m["msg_type"] == msg_type)]

    def listing(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        return self.sent_to(query.get("receive_id") or None, query.get("msg_type") or None)

    def by_id(self, message_id: str) -> dict[str, Any] | None:
        return next((m for m in self.sent if m["message_id"] == message_id), None)

    # --- the envelope and the token ------------------------------------------------------------------

    def status_for(self, code: int) -> int:
        return 429 if code == RATE_LIMITED else 500 if code == INTERNAL_ERROR else 400

    def presented_token(self, request: web.Request) -> str:
        auth = request.headers.get("Authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else ""

    # --- the API -----------------------------------------------------------------------------------

    @route("POST", "/open-apis/auth/v3/tenant_access_token/internal", "token")
    async def token(self, request: web.Request) -> web.Response:
        self.refuse_credentials(await self.json_body(request), [
            ("app_id", self.app_id, BAD_APP, "app_id is invalid"),
            ("app_secret", self.app_secret, BAD_SECRET, "app secret invalid")])
        return self.ok(tenant_access_token=self.issue_token("t-"), expire=self.token_ttl)

    @route("GET", "/open-apis/bot/v3/info")
    async def bot_info(self, request: web.Request) -> web.Response:
        return self.ok(bot={"open_id": self.bot_open_id, "app_name": self.bot_name, "activate_status": 2})

    @route("POST", "/open-apis/im/v1/messages")
    async def send(self, request: web.Request) -> web.Response:
        kind = request.query.get("receive_id_type", "")
        body = await self.json_body(request)
        receive_id, msg_type, content = body.get("receive_id"), body.get("msg_type"), body.get("content")
        uuid = body.get("uuid") or ""
        if kind not in ("chat_id", "open_id", "user_id", "union_id", "email") or not receive_id \
                or msg_type not in ("text", "post", "image", "interactive") or not isinstance(content, str):
            return self.err(INVALID_REQUEST, "invalid request")
        if len(uuid) > 50:
            return self.err(INVALID_REQUEST, "uuid too long")
        if msg_type == "interactive" and _card_of(content) is None:
            return self.err(NOT_UPDATE_MULTI, "card content is not Card JSON 2.0")
        if kind == "chat_id" and self.chats is not None and receive_id not in self.chats:
            return self.err(BOT_NOT_IN_CHAT, "bot is not in the chat")
        now = self.clock.now().timestamp()
        if uuid and uuid in self.uuids and self.uuids[uuid][1] > now:
            return self.ok(data=_wire(self.by_id(self.uuids[uuid][0])))
        entry = self.record(message_id="om_" + secrets.token_hex(16), receive_id_type=kind, receive_id=receive_id,
                            chat_id=receive_id if kind == "chat_id" else "oc_p2p_" + receive_id,
                            msg_type=msg_type, content=json.loads(content), uuid=uuid, updates=[])
        if uuid:
            self.uuids[uuid] = (entry["message_id"], now + UUID_TTL)
        return self.ok(data=_wire(entry))

    @route("PATCH", "/open-apis/im/v1/messages/{message_id}")
    async def patch(self, request: web.Request) -> web.Response:
        entry = self.by_id(request.match_info["message_id"])
        if entry is None:
            return self.err(MESSAGE_NOT_FOUND, "message not found")
        body = await self.json_body(request)
        card = _card_of(body.get("content"))
        if entry["msg_type"] != "interactive" or card is None:
            return self.err(INVALID_REQUEST, "only cards can be patched")
        # Feishu refuses to update a shared card that was not sent with update_multi (and keeps it so).
        if not (entry["content"].get("config") or {}).get("update_multi") \
                or not (card.get("config") or {}).get("update_multi"):
            return self.err(NOT_UPDATE_MULTI, "card is not update_multi")
        entry["updates"].append(entry["content"])
        entry["content"] = card
        return self.ok()

    @route("GET", "/open-apis/im/v1/messages/{message_id}/resources/{key}")
    async def resource(self, request: web.Request) -> web.Response:
        # `type` must name the resource's kind, as on Feishu: image for images, file for files and audio.
        kind = request.query.get("type")
        key = request.match_info["key"]
        data = self.images.get(key) if kind == "image" else self.files.get(key) if kind == "file" else None
        if data is None:
            return self.err(RESOURCE_NOT_FOUND, "resource not found")
        return web.Response(body=data, content_type="image/jpeg" if kind == "image" else "application/octet-stream")


def _card_of(content: str) -> dict[str, Any] | None:
    try:
        card = json.loads(content)
    except (TypeError, ValueError):
        return None
    return card if isinstance(card, dict) and card.get("schema") == "2.0" and "body" in card else None


FAKE_FEISHU = FakeFeishu.KEY


def setup_fake_feishu(app: web.Application, prefix: str = FakeFeishu.PREFIX, *, app_id: str, app_secret: str,
                      clock: Clock | None = None) -> FakeFeishu:
    """FakeFeishu.mount, by its older name (on the app's clock unless one is given)."""
    return FakeFeishu.mount(app, prefix, app_id=app_id, app_secret=app_secret, clock=clock or Clock())


def _wire(entry: dict[str, Any]) -> dict[str, Any]:
    return {"message_id": entry["message_id"], "chat_id": entry["chat_id"], "msg_type": entry["msg_type"],
            "body": {"content": _dumps(entry["content"])}}


# --- callbacks the way Feishu sends them ------------------------------------------------------------

@dataclass
class FeishuPusher:
    """Builds callbacks as the platform does: schema 2.0 payload, AES-encrypted, signed headers."""

    verification_token: str
    encrypt_key: str
    app_id: str = "cli_test"
    clock: Clock | None = None
    _seq: int = 0

    def _now(self) -> int:
        return int(self.clock.now().timestamp() if self.clock else time.time())

    def _next(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}{self._seq:06d}{secrets.token_hex(6)}"

    def header(self, event_type: str, event_id: str = "") -> dict[str, Any]:
        return {"event_id": event_id or self._next("ev_"), "token": self.verification_token,
                "create_time": str(self._now() * 1000), "event_type": event_type, "tenant_key": "tenant",
                "app_id": self.app_id}

    def message(self, *, open_id: str, chat_id: str = "", chat_type: str = "p2p", message_type: str = "text",
                content: dict[str, Any] | None = None, mentions: list[dict[str, Any]] | None = None,
                message_id: str = "", event_id: str = "", sender_type: str = "user") -> dict[str, Any]:
        msg: dict[str, Any] = {
            "message_id": message_id or self._next("om_"), "create_time": str(self._now() * 1000),
            "chat_id": chat_id or "oc_p2p_" + open_id, "chat_type": chat_type, "message_type": message_type,
            "content": _dumps(content if content is not None else {"text": ""}),
        }
        if mentions:
            msg["mentions"] = mentions
        return {"schema": "2.0", "header": self.header("im.message.receive_v1", event_id),
                "event": {"sender": {"sender_id": {"open_id": open_id, "union_id": "on_" + open_id,
                                                   "user_id": ""}, "sender_type": sender_type,
                                     "tenant_key": "tenant"}, "message": msg}}

    def card_action(self, *, open_id: str, value: Any, chat_id: str, message_id: str,
                    event_id: str = "") -> dict[str, Any]:
        return {"schema": "2.0", "header": self.header("card.action.trigger", event_id),
                "event": {"operator": {"tenant_key": "tenant", "open_id": open_id, "union_id": "on_" + open_id},
                          "token": "c-" + secrets.token_hex(8), "host": "im_message",
                          "action": {"tag": "button", "value": value},
                          "context": {"open_message_id": message_id, "open_chat_id": chat_id}}}

    def url_verification(self, challenge: str) -> dict[str, Any]:
        return {"challenge": challenge, "token": self.verification_token, "type": "url_verification"}

    def request(self, payload: dict[str, Any], *, timestamp: int | None = None, nonce: str = "",
                iv: bytes | None = None) -> tuple[dict[str, str], bytes]:
        """(headers, body) of the HTTP POST Feishu would make: encrypted when a key is set, then signed."""
        if not self.encrypt_key:
            return {"Content-Type": "application/json"}, _dumps(payload).encode()
        body = _dumps({"encrypt": encrypt(self.encrypt_key, _dumps(payload), iv or secrets.token_bytes(16))}).encode()
        ts = str(self._now() if timestamp is None else timestamp)
        nonce = nonce or secrets.token_hex(8)
        return {"Content-Type": "application/json", "X-Lark-Request-Timestamp": ts, "X-Lark-Request-Nonce": nonce,
                "X-Lark-Signature": signature(ts, nonce, self.encrypt_key, body)}, body
