"""Simulator endpoints: the chat page, `POST /sim/api/say` and `GET /sim/api/sent`."""
from __future__ import annotations

import base64
import binascii

from aiohttp import web

from bot.api.errors import api_error
from bot.http import MAX_PHOTO_BODY, dumps, json_object
from bot.runtime import run_pending
from bot.services import services_of
from bot.sim.log import CHANNEL
from conversations.messages import ButtonPress, InboundMessage, Reply, option_of

routes = web.RouteTableDef()
MAX_IMAGE_B64 = 16 * 1024 * 1024


@routes.get("/sim")
async def sim_root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/sim/")


@routes.get("/sim/")
async def page(request: web.Request) -> web.Response:
    services = services_of(request)
    sim = services.channels[CHANNEL]
    html = services.texts.render("sim/index.html.j2", wecom=sim.plays_wecom, feishu=sim.plays_feishu,
                                 needs_token=services.sim_needs_token)
    return web.Response(text=html, content_type="text/html", charset="utf-8")


@routes.post("/sim/api/say")
async def say(request: web.Request) -> web.Response:
    data = await json_object(request, MAX_PHOTO_BODY)
    user, chat, text = data.get("user"), data.get("chat"), data.get("text")
    if not isinstance(user, str) or not user.strip() or len(user) > 64:
        raise api_error(400, "missing" if not user else "invalid", field="user")
    if chat is not None and (not isinstance(chat, str) or len(chat) > 64):
        raise api_error(400, "invalid", field="chat")
    if text is not None and not isinstance(text, str):
        raise api_error(400, "invalid", field="text")
    image, audio = _decoded(data, "image_b64"), _decoded(data, "voice_b64")
    services = services_of(request)
    # A voice note (`voice_b64`: its recording) comes without a transcript, as from WeCom or Feishu.
    msg = InboundMessage(channel=CHANNEL, chat=chat or user, user=user, text=text or "", image=image,
                         voice=audio is not None, audio=audio)
    replies = await services.conversations.handle(msg)
    items = services.sim_log.record(msg.chat, msg.user, replies)
    await run_pending(services)  # dispatch cards and notices appear in the sent log right away
    return web.json_response({"replies": items}, dumps=dumps)


def _decoded(data: dict, field: str) -> bytes | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_IMAGE_B64:
        raise api_error(400, "invalid", field=field)
    try:
        return base64.b64decode(value.split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError):
        raise api_error(400, "invalid", field=field) from None


@routes.get("/sim/api/sent")
async def sent(request: web.Request) -> web.Response:
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        raise api_error(400, "bad_query", field="after")
    items = services_of(request).sim_log.since(after, request.query.get("user") or None)
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
    services = services_of(request)
    option = option_of(data["payload"])
    if option is not None:  # an answer button (`opt|同意`): the same as typing the answer
        msg = InboundMessage(channel=CHANNEL, chat=data["user"], user=data["user"], text=option,
                             message_id=f"press:{press_id}" if press_id else "")
        replies = await services.conversations.handle(msg)
        items = services.sim_log.record(msg.chat, msg.user, replies)
        await run_pending(services)
        return web.json_response({"outcome": "answered", "replies": items}, dumps=dumps)
    p = ButtonPress(channel=CHANNEL, chat=data["user"], user=data["user"], payload=data["payload"],
                    press_id=press_id)
    result, text = await services.card_actions.press(p)
    await run_pending(services)  # the simulator shows the consequences at once
    item = services.sim_log.record(p.chat, p.user, [Reply(text)])
    return web.json_response({"outcome": result.outcome, "replies": item},
                             dumps=dumps)


@routes.get("/sim/api/people")
async def people(request: web.Request) -> web.Response:
    """Who can be played in the simulator: staff with a sim_user (residents are any other id)."""
    settings = services_of(request).settings
    groups = {t.key: t.feishu_chat_id for t in settings.trades if t.feishu_chat_id}
    staff = [{"user": s.sim_user, "name": s.name, "role": s.role, "trades": s.trades,
              "feishu_groups": sorted({groups[t] for t in s.trades if t in groups})}
             for s in settings.staff if s.sim_user]
    return web.json_response({"staff": staff}, dumps=dumps)


MAX_ADVANCE = 366 * 86400   # a year at most per call: enough for any timer, small enough to be a typo's ceiling


@routes.get("/sim/api/clock")
async def clock_now(request: web.Request) -> web.Response:
    """The service's time, as its timers see it."""
    clock = services_of(request).clock
    return web.json_response({"now": clock.local_now().isoformat(), "movable": callable(getattr(clock, "advance", None))},
                             dumps=dumps)


@routes.post("/sim/api/clock")
async def move_clock(request: web.Request) -> web.Response:
    """`{"advance": seconds}`: move the service's clock on, then run what fell due (timers, sends) at once."""
    data = await json_object(request)
    advance = data.get("advance")
    if advance is None:
        raise api_error(400, "missing", field="advance")
    if isinstance(advance, bool) or not isinstance(advance, (int, float)) or not 0 <= advance <= MAX_ADVANCE:
        raise api_error(400, "invalid", field="advance")
    services = services_of(request)
    move = getattr(services.clock, "advance", None)
    if not callable(move):   # the system clock beside a real platform: time is not the simulator's to move
        raise api_error(409, "clock_fixed")
    move(seconds=advance)
    await run_pending(services)
    return web.json_response({"now": services.clock.local_now().isoformat()}, dumps=dumps)
