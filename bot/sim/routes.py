"""Simulator endpoints: the chat page, `POST /sim/api/say` and `GET /sim/api/sent`."""
from __future__ import annotations

import base64
import binascii

from aiohttp import web

from bot import keys
from bot.api.errors import api_error
from bot.http import MAX_PHOTO_BODY, dumps, json_object
from bot.card_actions import press
from conversations.messages import ButtonPress, InboundMessage, Reply

routes = web.RouteTableDef()
MAX_IMAGE_B64 = 16 * 1024 * 1024


@routes.get("/sim")
async def sim_root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/sim/")


@routes.get("/sim/")
async def page(request: web.Request) -> web.Response:
    texts = request.app[keys.ENGINE].deps.texts
    from bot.sim.wecom_api import FAKE_WECOM
    from bot.sim.feishu_play import PUSHER
    html = texts.render("sim/index.html.j2", wecom=FAKE_WECOM in request.app, feishu=PUSHER in request.app,
                        needs_token=request.app[keys.SIM_NEEDS_TOKEN])
    return web.Response(text=html, content_type="text/html", charset="utf-8")


@routes.post("/sim/api/say")
async def say(request: web.Request) -> web.Response:
    data = await json_object(request, MAX_PHOTO_BODY)
    user, chat, text, image_b64 = data.get("user"), data.get("chat"), data.get("text"), data.get("image_b64")
    if not isinstance(user, str) or not user.strip() or len(user) > 64:
        raise api_error(400, "missing" if not user else "invalid", field="user")
    if chat is not None and (not isinstance(chat, str) or len(chat) > 64):
        raise api_error(400, "invalid", field="chat")
    if text is not None and not isinstance(text, str):
        raise api_error(400, "invalid", field="text")
    image = None
    if image_b64 is not None:
        if not isinstance(image_b64, str) or len(image_b64) > MAX_IMAGE_B64:
            raise api_error(400, "invalid", field="image_b64")
        try:
            image = base64.b64decode(image_b64.split(",", 1)[-1], validate=True)
        except (binascii.Error, ValueError):
            raise api_error(400, "invalid", field="image_b64")
    msg = InboundMessage(channel="sim", chat=chat or user, user=user, text=text or "", image=image)
    replies = await request.app[keys.ENGINE].handle(msg)
    items = request.app[keys.SIM_LOG].record(msg.chat, msg.user, replies)
    from bot.app import run_pending
    await run_pending(request.app)  # dispatch cards and notices appear in the sent log right away
    return web.json_response({"replies": items}, dumps=dumps)


@routes.get("/sim/api/sent")
async def sent(request: web.Request) -> web.Response:
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        raise api_error(400, "bad_query", field="after")
    items = request.app[keys.SIM_LOG].since(after, request.query.get("user") or None)
    return web.json_response({"sent": items}, dumps=dumps)


@routes.post("/sim/api/press")
async def press_button(request: web.Request) -> web.Response:
    """A person presses a card button in the simulator: the same domain action every platform calls."""
    data = await json_object(request)
    if not isinstance(data.get("user"), str) or not data["user"].strip():
        raise api_error(400, "missing", field="user")
    if not isinstance(data.get("payload"), str):
        raise api_error(400, "missing", field="payload")
    # The page gives each click an id, as platforms do: a retried request acts once (`press`).
    press_id = data.get("press_id", "")
    if not isinstance(press_id, str) or len(press_id) > 64:
        raise api_error(400, "invalid", field="press_id")
    p = ButtonPress(channel="sim", chat=data["user"], user=data["user"], payload=data["payload"],
                    press_id=press_id)
    result, text = await press(request.app, p)
    from bot.app import run_pending
    await run_pending(request.app)  # the simulator shows the consequences at once
    item = request.app[keys.SIM_LOG].record(p.chat, p.user, [Reply(text)])
    return web.json_response({"outcome": result.outcome, "replies": item},
                             dumps=dumps)


@routes.get("/sim/api/people")
async def people(request: web.Request) -> web.Response:
    """Who can be played in the simulator: staff with a sim_user (residents are any other id)."""
    settings = request.app[keys.SETTINGS]
    groups = {t.key: t.feishu_chat_id for t in settings.trades if t.feishu_chat_id}
    staff = [{"user": s.sim_user, "name": s.name, "role": s.role, "trades": s.trades,
              "feishu_groups": sorted({groups[t] for t in s.trades if t in groups})}
             for s in settings.staff if s.sim_user]
    return web.json_response({"staff": staff}, dumps=dumps)
