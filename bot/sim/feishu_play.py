"""The simulator speaking Feishu: a person's message or card click becomes an encrypted, signed event
posted to /feishu/events or /feishu/card, as Feishu sends it; the service's calls land on the fake API.
"""
from __future__ import annotations

import aiohttp
from aiohttp import web

from bot.api.errors import api_error
from bot.http import dumps, json_object
from bot.services import Services, services_of
from bot.sim.log import CHANNEL as SIM
from bot.settings import FeishuSettings, Settings
from bot.sim.demo_credentials import (DEMO_FEISHU_APP_ID as DEMO_APP_ID,  # noqa: F401
                                      DEMO_FEISHU_APP_SECRET as DEMO_APP_SECRET,
                                      DEMO_FEISHU_ENCRYPT_KEY as DEMO_ENCRYPT_KEY, DEMO_FEISHU_TOKEN as DEMO_TOKEN,
                                      DemoCredentials)

routes = web.RouteTableDef()


def open_id(user: str) -> str:
    """The simulator's Feishu open_id for a person typed into the page."""
    return user if user.startswith("ou_") else f"ou_{user}"


def with_demo_feishu(settings: Settings, creds: DemoCredentials = DemoCredentials()) -> Settings:
    """A Feishu app on the fake API; each trade gets a Feishu group, each demo person an open_id."""
    base = settings.service.public_url.rstrip("/")
    feishu = FeishuSettings(app_id=DEMO_APP_ID, app_secret=creds.feishu_app_secret,
                            verification_token=creds.feishu_token, encrypt_key=creds.feishu_encrypt_key,
                            api_base=f"{base}/sim/feishu")
    trades = [t if t.feishu_chat_id else t.model_copy(update={"feishu_chat_id": f"oc_{t.key}_group"})
              for t in settings.trades]
    staff = [s if s.feishu_open_id or not s.sim_user else s.model_copy(update={"feishu_open_id": open_id(s.sim_user)})
             for s in settings.staff]
    return settings.model_copy(update={"feishu": feishu, "trades": trades, "staff": staff, "demo": True})


def plays(settings: Settings) -> bool:
    """The Feishu app is the simulator's demo one (`with_demo_feishu`), pointed at the fake API."""
    return settings.feishu is not None and settings.feishu.app_id == DEMO_APP_ID


async def _post(services: Services, path: str, payload: dict) -> tuple[int, dict]:
    """Encrypt, sign and POST like Feishu: over HTTP to our own public URL, through every check."""
    headers, body = services.channels[SIM].pusher.request(payload)
    url = services.settings.service.public_url.rstrip("/") + path
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        async with http.post(url, data=body, headers=headers) as resp:
            data = await resp.json(content_type=None) if resp.status == 200 else {}
            return resp.status, data if isinstance(data, dict) else {}


def _user(data: dict) -> str:
    user = data.get("user")
    if not isinstance(user, str) or not user.strip():
        raise api_error(400, "missing", field="user")
    return user.strip()


@routes.post("/sim/api/feishu/say")
async def say(request: web.Request) -> web.Response:
    """`{"user", "text"}` → an `im.message.receive_v1` event in the person's 1:1 chat with the bot."""
    data = await json_object(request)
    text = data.get("text")
    if not isinstance(text, str):
        raise api_error(400, "missing", field="text")
    services = services_of(request)
    payload = services.channels[SIM].pusher.message(open_id=open_id(_user(data)), content={"text": text})
    status, _ = await _post(services, "/feishu/events", payload)
    return web.json_response({"callback_status": status})


@routes.post("/sim/api/feishu/click")
async def click(request: web.Request) -> web.Response:
    """`{"user", "message_id", "chat_id", "value"}` → `card.action.trigger`; answers with the toast and card."""
    data = await json_object(request)
    message_id, chat_id, value = data.get("message_id"), data.get("chat_id"), data.get("value")
    if not isinstance(message_id, str) or not isinstance(chat_id, str) or not isinstance(value, dict):
        raise api_error(400, "missing", field="message_id")
    services = services_of(request)
    payload = services.channels[SIM].pusher.card_action(open_id=open_id(_user(data)), value=value,
                                                          chat_id=chat_id, message_id=message_id)
    status, answer = await _post(services, "/feishu/card", payload)
    return web.json_response({"callback_status": status, "answer": answer}, dumps=dumps)
