"""The simulator speaking WeCom: a person's message or card click becomes an encrypted callback to
/wecom/callback, exactly as WeCom sends it; what the service sends back lands on the fake WeCom API.
"""
from __future__ import annotations

import base64
import binascii
import secrets

import aiohttp
import xmltodict
from aiohttp import web

from bot.api.errors import api_error
from bot.http import MAX_PHOTO_BODY, json_object
from bot.services import Services, services_of
from bot.sim.log import CHANNEL as SIM
from bot.settings import Settings, WecomSettings
from bot.sim.demo_credentials import (DEMO_CORP_ID, DEMO_WECOM_AES_KEY as DEMO_AES_KEY,  # noqa: F401
                                      DEMO_WECOM_SECRET as DEMO_SECRET, DEMO_WECOM_TOKEN as DEMO_TOKEN,
                                      DemoCredentials)
from bot.sim.wecom_api import callback_xml
from bot.wecom.event import CHANNEL as WECOM

routes = web.RouteTableDef()


def with_demo_wecom(settings: Settings, creds: DemoCredentials = DemoCredentials()) -> Settings:
    """Point a WeCom channel at the simulator's fake API, keeping the simulator mounted."""
    base = settings.service.public_url.rstrip("/")
    wecom = WecomSettings(corp_id=DEMO_CORP_ID, agent_id=1000002, secret=creds.wecom_secret,
                          token=creds.wecom_token, encoding_aes_key=creds.wecom_aes_key, api_base=f"{base}/sim/wecom")
    return settings.model_copy(update={"wecom": wecom, "demo": True})


def plays(settings: Settings) -> bool:
    """The WeCom app is the simulator's demo one (`with_demo_wecom`), pointed at the fake API."""
    return settings.wecom is not None and settings.wecom.corp_id == DEMO_CORP_ID


async def _post_callback(services: Services, xml: str) -> int:
    """Encrypt and POST like WeCom: over HTTP to our own public URL, through every check."""
    envelope = services.channels[WECOM].crypto.encrypt(xml)
    fields = xmltodict.parse(envelope)["xml"]
    query = {"msg_signature": fields["MsgSignature"], "timestamp": fields["TimeStamp"], "nonce": fields["Nonce"]}
    url = services.settings.service.public_url.rstrip("/") + "/wecom/callback"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        async with http.post(url, params=query, data=envelope.encode()) as resp:
            return resp.status


async def _body(request: web.Request) -> dict:
    data = await json_object(request, MAX_PHOTO_BODY)
    if not isinstance(data.get("user"), str) or not data["user"].strip():
        raise api_error(400, "missing", field="user")
    return data


@routes.post("/sim/api/wecom/say")
async def say(request: web.Request) -> web.Response:
    """`{"user", "text"?, "image_b64"?, "voice_b64"?}` → one WeCom callback; replies arrive on the fake API.
    A voice note (AMR bytes, as WeCom records them) is held by the fake's media/get, as a photo is."""
    services = services_of(request)
    data = await _body(request)
    now = int(services.clock.now().timestamp())
    msg_id = str(secrets.randbits(62))
    settings = services.settings
    if data.get("image_b64"):
        media_id = services.channels[SIM].fake_wecom.add_media(_decoded(data, "image_b64"))
        xml = callback_xml(settings.wecom.corp_id, data["user"], now, "image", settings.wecom.agent_id,
                           PicUrl="", MediaId=media_id, MsgId=msg_id)
    elif data.get("voice_b64"):
        media_id = services.channels[SIM].fake_wecom.add_voice(_decoded(data, "voice_b64"))
        xml = callback_xml(settings.wecom.corp_id, data["user"], now, "voice", settings.wecom.agent_id,
                           MediaId=media_id, Format="amr", MsgId=msg_id)
    else:
        text = data.get("text")
        if not isinstance(text, str):
            raise api_error(400, "missing", field="text")
        xml = callback_xml(settings.wecom.corp_id, data["user"], now, "text", settings.wecom.agent_id,
                           Content=text, MsgId=msg_id)
    status = await _post_callback(services, xml)
    return web.json_response({"callback_status": status, "msg_id": msg_id})


def _decoded(data: dict, field: str) -> bytes:
    try:
        return base64.b64decode(str(data[field]).split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError):
        raise api_error(400, "invalid", field=field) from None


@routes.post("/sim/api/wecom/click")
async def click(request: web.Request) -> web.Response:
    """`{"user", "task_id", "key"}` → a template_card_event, with a fresh ResponseCode as WeCom gives."""
    services = services_of(request)
    data = await _body(request)
    task_id, key = data.get("task_id"), data.get("key")
    if not isinstance(task_id, str) or not isinstance(key, str):
        raise api_error(400, "missing", field="task_id")
    settings = services.settings
    code = services.channels[SIM].fake_wecom.click_code(data["user"], task_id)
    xml = callback_xml(settings.wecom.corp_id, data["user"], int(services.clock.now().timestamp()), "event",
                       settings.wecom.agent_id, Event="template_card_event", EventKey=key, TaskId=task_id,
                       CardType="button_interaction", ResponseCode=code)
    status = await _post_callback(services, xml)
    return web.json_response({"callback_status": status})
