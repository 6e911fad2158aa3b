"""Decrypted WeCom callback XML → one neutral event (InboundMessage or ButtonPress), or nothing."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from bot.untrusted import Unreadable, xml_fields
from conversations.messages import ButtonPress, InboundMessage, option_of

CHANNEL = "wecom"


class MalformedEvent(ValueError):
    """Not WeCom callback XML: unparsable, or without the fields every callback carries."""


@dataclass(frozen=True)
class Parsed:
    """What one callback becomes. `event` is None for types we do not handle (answered 200, no effect)."""

    dedupe_id: str
    event: InboundMessage | ButtonPress | None
    media_id: str = ""      # set for an image or a voice note: download it before the engine sees the message
    kind: str = ""          # the WeCom MsgType (or event name), for logs
    response_code: str = "" # a pressed answer button: what greys that card's buttons (single use, 72 h)


def xml_root(xml: str | bytes) -> dict[str, Any]:
    """The <xml> element's children as {tag: text}, parsed once per callback (bot.untrusted's rules:
    C ElementTree for the flat documents WeCom sends, no DTD or entity ever)."""
    try:
        return xml_fields(xml)
    except Unreadable as e:
        raise MalformedEvent(str(e)) from None


def load(xml: str | bytes | dict[str, Any]) -> dict[str, Any]:
    """The <xml> element of a WeCom message or event (FromUserName and MsgType present)."""
    root = xml if isinstance(xml, dict) else xml_root(xml)
    if not _text(root, "FromUserName") or not _text(root, "MsgType"):
        raise MalformedEvent("not a WeCom callback")
    return root


def _text(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    return value.strip() if isinstance(value, str) else ""


def parse(xml: str | bytes | dict[str, Any]) -> Parsed:
    doc = load(xml)
    user = _text(doc, "FromUserName")
    msg_type = _text(doc, "MsgType")
    msg_id = _text(doc, "MsgId")
    if msg_type == "event":
        return _event(doc, user)
    # WeCom always sends MsgId for messages; CreateTime is the fallback key, as for events.
    dedupe = f"msg:{msg_id}" if msg_id else f"msg:{user}:{_text(doc, 'CreateTime')}"
    base = {"channel": CHANNEL, "chat": user, "user": user, "message_id": msg_id}
    if msg_type == "text":
        return Parsed(dedupe, InboundMessage(text=_text(doc, "Content"), **base), kind=msg_type)
    if msg_type == "image":
        media_id = _text(doc, "MediaId")
        if not media_id:
            raise MalformedEvent("image without MediaId")
        return Parsed(dedupe, InboundMessage(**base), media_id=media_id, kind=msg_type)
    if msg_type == "voice":
        # No transcript on WeCom: the recording (AMR) is kept with the report; no MediaId, nothing to keep.
        msg = InboundMessage(voice=True, audio_format=_text(doc, "Format"), **base)
        return Parsed(dedupe, msg, media_id=_text(doc, "MediaId"), kind=msg_type)
    if msg_type == "location":
        # The label is what a resident would have typed; the engine treats it as text.
        label = _text(doc, "Label") or f"{_text(doc, 'Location_X')},{_text(doc, 'Location_Y')}"
        return Parsed(dedupe, InboundMessage(text=label, **base), kind=msg_type)
    return Parsed(dedupe, None, kind=msg_type)


def _event(doc: dict[str, Any], user: str) -> Parsed:
    name = _text(doc, "Event")
    # Events have no MsgId: WeCom's documented key is FromUserName + CreateTime; the card fields make a
    # double click on two buttons within one second two events.
    key, task = _text(doc, "EventKey"), _text(doc, "TaskId")
    dedupe = f"evt:{user}:{_text(doc, 'CreateTime')}:{name}:{key}:{task}"
    if name != "template_card_event" or not key:
        return Parsed(dedupe, None, kind=name)
    option = option_of(key)
    if option is not None:
        # An answer button of a question (bot/wecom/render.question_card): as if the person had typed it.
        # Its message id is short and stable: the conversation's redelivery check and the replies' keys.
        press = "press:" + hashlib.sha1(dedupe.encode()).hexdigest()[:24]
        msg = InboundMessage(channel=CHANNEL, chat=user, user=user, text=option, message_id=press)
        return Parsed(dedupe, msg, kind=name, response_code=_text(doc, "ResponseCode"))
    press = ButtonPress(channel=CHANNEL, chat=user, user=user, payload=key, message_id=task,
                        reply_token=_text(doc, "ResponseCode"), press_id=dedupe)
    return Parsed(dedupe, press, kind=name)
