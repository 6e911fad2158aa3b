"""Official Account XML → neutral terms: the envelope, the de-duplication id, the message's parts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.untrusted import Unreadable, xml_fields


class MalformedXml(ValueError):
    """Not a WeChat XML document (or one with a DTD, which WeChat never sends)."""


def parse_xml(body: bytes | str) -> dict[str, Any]:
    """The <xml> root as a flat dict of strings; anything else is MalformedXml."""
    # bot.untrusted refuses a DTD (entity bombs, external files) wherever it hides; WeChat never sends one.
    try:
        return xml_fields(body)
    except Unreadable as e:
        raise MalformedXml(str(e)) from None


def text_of(root: dict[str, Any], name: str) -> str:
    value = root.get(name)
    return value if isinstance(value, str) else ""


def dedupe_id(root: dict[str, Any]) -> str:
    """MsgId for a message; an event has none, so sender + CreateTime (what WeChat itself suggests)."""
    msg_id = text_of(root, "MsgId")
    if msg_id:
        return msg_id
    sender, created = text_of(root, "FromUserName"), text_of(root, "CreateTime")
    if not sender or not created:
        raise MalformedXml("neither MsgId nor FromUserName + CreateTime")
    return f"{sender}:{created}"


@dataclass(frozen=True)
class MpMessage:
    """One inbound Official Account item, already reduced to what the service uses."""

    kind: str              # text | image | voice | event | unsupported
    openid: str
    msg_id: str = ""
    text: str = ""
    media_id: str = ""
    event: str = ""        # subscribe | unsubscribe | CLICK | SCAN … (events only)
    raw_type: str = ""
    audio_format: str = "" # a voice note's Format (amr, speex)


def to_message(root: dict[str, Any]) -> MpMessage:
    openid = text_of(root, "FromUserName")
    if not openid:
        raise MalformedXml("no FromUserName")
    msg_type = text_of(root, "MsgType").lower()
    msg_id = text_of(root, "MsgId")
    if msg_type == "text":
        return MpMessage("text", openid, msg_id, text=text_of(root, "Content"), raw_type=msg_type)
    if msg_type == "image":
        return MpMessage("image", openid, msg_id, media_id=text_of(root, "MediaId"), raw_type=msg_type)
    if msg_type == "voice" and text_of(root, "Recognition"):
        # WeChat's own speech recognition, when the account enabled it: as good as typed text.
        return MpMessage("text", openid, msg_id, text=text_of(root, "Recognition"), raw_type=msg_type)
    if msg_type == "voice":
        # Recognition off: the recording itself is kept with the report (the adapter downloads it).
        return MpMessage("voice", openid, msg_id, media_id=text_of(root, "MediaId"), raw_type=msg_type,
                         audio_format=text_of(root, "Format"))
    if msg_type == "location" and text_of(root, "Label"):
        return MpMessage("text", openid, msg_id, text=text_of(root, "Label"), raw_type=msg_type)
    if msg_type == "event":
        return MpMessage("event", openid, event=text_of(root, "Event"), raw_type=msg_type)
    return MpMessage("unsupported", openid, msg_id, raw_type=msg_type)
