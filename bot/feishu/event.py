"""Decrypted Feishu payloads → neutral events: InboundMessage parts, ButtonPress, or nothing."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.untrusted import Unreadable, json_value
from conversations.messages import ButtonPress, InboundMessage, option_of

CHANNEL = "feishu"
MESSAGE = "im.message.receive_v1"
CARD_ACTION = "card.action.trigger"
URL_VERIFICATION = "url_verification"


class MalformedEvent(ValueError):
    """A subscribed event type without the fields it always carries."""


@dataclass(frozen=True)
class Envelope:
    """What the webhook needs to route one payload: its type and the id it is de-duplicated on."""

    type: str
    dedupe_id: str = ""
    challenge: str = ""


@dataclass(frozen=True)
class Mention:
    key: str        # "@_user_1": how the mention appears inside the message text
    open_id: str
    name: str = ""


@dataclass(frozen=True)
class FeishuMessage:
    """One im.message.receive_v1, parsed; the adapter turns it into InboundMessage(s) after the mention
    check and the image download."""

    message_id: str
    chat_id: str
    chat_type: str              # p2p | group
    open_id: str
    message_type: str           # text | image | post | audio | anything else (unsupported)
    text: str = ""
    image_key: str = ""
    file_key: str = ""          # an audio message's recording (Opus), fetched as a message resource
    mentions: tuple[Mention, ...] = field(default_factory=tuple)
    from_app: bool = False      # sent by a bot (ours included): never answered

    @property
    def is_group(self) -> bool:
        return self.chat_type != "p2p"

    def mentions_of(self, open_id: str | None) -> bool:
        """Is `open_id` @-mentioned? With the bot's id unknown, any mention counts: without the
        "all group messages" scope Feishu delivers only messages that mention the bot anyway."""
        if not open_id:
            return bool(self.mentions)
        return any(m.open_id == open_id for m in self.mentions)

    def text_without(self, bot_open_id: str | None) -> str:
        """The text with the bot's mention removed and other mentions shown as @name."""
        text = self.text
        # Longest key first: @_user_10 must not be cut by @_user_1.
        for m in sorted(self.mentions, key=lambda m: len(m.key), reverse=True):
            is_bot = m.open_id == bot_open_id if bot_open_id else True
            text = text.replace(m.key, "" if is_bot else f"@{m.name}")
        return re.sub(r"[ \t]{2,}", " ", text).strip()


def envelope(payload: dict[str, Any]) -> Envelope:
    """Type and de-duplication id. A message is keyed on its message_id: a retry of the same event
    and a second event about the same message both carry it."""
    if payload.get("type") == URL_VERIFICATION:
        challenge = payload.get("challenge")
        return Envelope(URL_VERIFICATION, challenge=challenge if isinstance(challenge, str) else "")
    header = payload.get("header") if isinstance(payload.get("header"), dict) else {}
    if payload.get("schema"):
        kind = str(header.get("event_type") or "")
        event_id = str(header.get("event_id") or "")
    else:  # v1 events: {"uuid", "event": {"type": ...}}
        event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
        kind, event_id = str(event.get("type") or ""), str(payload.get("uuid") or "")
    if kind == MESSAGE:
        message_id = _dig(payload, "event", "message", "message_id")
        if not message_id:
            raise MalformedEvent("message without message_id")
        return Envelope(kind, f"msg:{message_id}")
    if kind == CARD_ACTION and not event_id:
        raise MalformedEvent("card action without event_id")
    return Envelope(kind, f"evt:{event_id}" if event_id else "")


def sender_open_id(payload: dict[str, Any]) -> str:
    """Who sent a message event (the inbox's order key); "" when it does not say."""
    return _dig(payload.get("event"), "sender", "sender_id", "open_id")


def _dig(data: Any, *path: str) -> str:
    for p in path:
        data = data.get(p) if isinstance(data, dict) else None
    return data if isinstance(data, str) else ""


def _content(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        data = json_value(raw) if isinstance(raw, str) else None
    except Unreadable:
        return {}
    return data if isinstance(data, dict) else {}


def post_parts(content: dict[str, Any]) -> tuple[str, str]:
    """Rich text → (its text elements concatenated, the first image_key). Received posts carry
    {"title", "content"}; sent ones wrap that in a locale ({"zh_cn": {...}}): both are read."""
    body = content
    if "content" not in body:
        body = next((v for v in content.values() if isinstance(v, dict) and "content" in v), {})
    lines, image = [], ""
    title = body.get("title")
    if isinstance(title, str) and title.strip():
        lines.append(title.strip())
    for paragraph in body.get("content") or []:
        if not isinstance(paragraph, list):
            continue
        parts = []
        for el in paragraph:
            if not isinstance(el, dict):
                continue
            tag = el.get("tag")
            if tag in ("text", "a", "md") and isinstance(el.get("text"), str):
                parts.append(el["text"])
            elif tag == "at":
                parts.append(str(el.get("user_id") or ""))  # "@_user_1": removed like a text mention
            elif tag == "img" and not image and isinstance(el.get("image_key"), str):
                image = el["image_key"]
        line = "".join(parts).strip()
        if line:
            lines.append(line)
    return "\n".join(lines), image


def message(payload: dict[str, Any]) -> FeishuMessage:
    event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
    msg = event.get("message") if isinstance(event.get("message"), dict) else {}
    sender = event.get("sender") if isinstance(event.get("sender"), dict) else {}
    message_id, chat_id = _dig(msg, "message_id"), _dig(msg, "chat_id")
    open_id = _dig(sender, "sender_id", "open_id")
    if not (message_id and chat_id and open_id):
        raise MalformedEvent("message without message_id, chat_id or sender open_id")
    kind = _dig(msg, "message_type")
    content = _content(msg.get("content"))
    text, image, file = "", "", ""
    if kind == "text":
        text = str(content.get("text") or "")
    elif kind == "image":
        image = str(content.get("image_key") or "")
    elif kind == "post":
        text, image = post_parts(content)
    elif kind == "audio":
        file = str(content.get("file_key") or "")
    mentions = tuple(
        Mention(str(m.get("key") or ""), _dig(m, "id", "open_id"), str(m.get("name") or ""))
        for m in (msg.get("mentions") or []) if isinstance(m, dict) and m.get("key"))
    return FeishuMessage(message_id=message_id, chat_id=chat_id, chat_type=_dig(msg, "chat_type") or "p2p",
                         open_id=open_id, message_type=kind, text=text, image_key=image, file_key=file,
                         mentions=mentions, from_app=_dig(sender, "sender_type") == "app")


def button_payload(value: Any) -> str:
    """Our payload string from a click's `action.value` (render.py stores it as {"p": payload})."""
    if isinstance(value, str):  # some clients deliver the value JSON-encoded
        value = _content(value)
    if isinstance(value, dict) and isinstance(value.get("p"), str):
        return value["p"]
    return ""


def card_press(payload: dict[str, Any]) -> ButtonPress:
    event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
    open_id = _dig(event, "operator", "open_id")
    if not open_id:
        raise MalformedEvent("card action without operator open_id")
    return ButtonPress(channel=CHANNEL, chat=_dig(event, "context", "open_chat_id"), user=open_id,
                       payload=button_payload((event.get("action") or {}).get("value")),
                       message_id=_dig(event, "context", "open_message_id"))


def option_message(payload: dict[str, Any], dedupe_id: str) -> InboundMessage | None:
    """A pressed answer button of a question (bot/feishu/question.py) as the message the person would have
    typed in their 1:1 chat (questions carry buttons only 1:1; a 1:1 conversation is keyed on the user, as the
    adapter keys their messages); None for any other card action (a staff card's button)."""
    event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
    option = option_of(button_payload((event.get("action") or {}).get("value")))
    open_id = _dig(event, "operator", "open_id")
    if option is None or not open_id:
        return None
    return InboundMessage(channel=CHANNEL, chat=open_id, user=open_id, text=option, message_id=dedupe_id)
