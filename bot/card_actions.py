"""A button press from any platform → one domain action → an immediate answer to the presser."""
from __future__ import annotations

import logging

from aiohttp import web

from bot import keys
from bot.outbound import queue_replies
from conversations.messages import ButtonPress, Reply
from dispatch.actions import ActionResult, accept, pass_on
from dispatch.payloads import decode

log = logging.getLogger(__name__)


async def press(app: web.Application, p: ButtonPress) -> tuple[ActionResult, str]:
    """Run the action; returns the result and the sentence the presser sees (toast or message)."""
    action = decode(p.payload)
    texts = app[keys.ENGINE].deps.texts
    if action is None:
        return ActionResult("unknown_ticket"), texts.render("notify/press_result.j2", outcome="unknown_ticket",
                                                           action="", t=None, holder="")
    now = app[keys.CLOCK].now()
    channels = set(app[keys.ENGINE].deps.channels)
    async with app[keys.SESSIONS]() as session, session.begin():
        if action.action == "accept":
            result = await accept(session, action.ticket, p.channel, p.user, now, reply_token=p.reply_token)
        else:
            result = await pass_on(session, action.ticket, action.action, p.channel, p.user, now, channels,
                                   reply_token=p.reply_token)
        text = texts.render("notify/press_result.j2", outcome=result.outcome, action=action.action,
                            t=result.ticket, holder=result.holder)
    log.info("press %s %s by %s:%s → %s", action.action, action.ticket, p.channel, p.user, result.outcome)
    return result, text


async def press_and_reply(app: web.Application, p: ButtonPress) -> ActionResult:
    """For platforms whose click gets no inline answer (WeCom): the result goes back as a message,
    through the outbox like every other message (keyed on the click, so a redelivery sends it once)."""
    result, text = await press(app, p)
    key = f"press:{p.user}:{p.message_id or p.reply_token}:{p.payload}"
    await queue_replies(app, p.channel, p.user, "", [Reply(text)], key)
    return result
