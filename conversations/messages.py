"""Neutral messages: what any platform's inbound message becomes, and what the bot answers."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class InboundMessage:
    """One message from a person, already verified, decrypted and parsed by its platform adapter."""

    channel: str                  # sim | wecom | wecom_kf | wechat_mp | feishu
    chat: str                     # the conversation: a 1:1 chat id, or a group id
    user: str                     # the sender's id on that platform
    text: str = ""
    image: bytes | None = None    # already downloaded; platforms' media expire
    image_failed: bool = False    # the platform would not hand us the image
    voice: bool = False           # a voice note; `text` holds the platform's transcript when it made one
    audio: bytes | None = None    # a voice note's recording, already downloaded (None: none, or refused)
    audio_format: str = ""        # what the platform calls it (amr, speex, opus): for logs, the bytes decide
    message_id: str = ""
    user_name: str = ""


@dataclass(frozen=True)
class Reply:
    """A bot answer: text plus optional quick answers a platform may render as buttons."""

    text: str
    options: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {"text": self.text, "options": list(self.options)}


@dataclass(frozen=True)
class ButtonPress:
    """A person pressed a button on a card; `payload` is our own codec's string (dispatch.payloads)."""

    channel: str
    chat: str
    user: str
    payload: str
    message_id: str = ""      # the platform's id of the card message that was clicked
    reply_token: str = ""     # opaque to the domain: what the platform needs to rewrite the clicked card
    press_id: str = ""        # the platform's id of this click (a retry carries it again): acted on once


# A quick-answer button (an option of a Reply or of a resident's question) carries the option's own text:
# pressing it is the same as typing it. One codec for every platform that shows options as buttons
# (bot/wecom, bot/feishu, the simulator); card buttons of staff actions use dispatch.payloads instead.
OPTION_PREFIX = "opt|"
MAX_OPTION = 60   # WeCom's button key and Feishu's value are far larger; an option is a word or two


def option_payload(option: str) -> str:
    """The button payload for an option: `opt|同意`."""
    return OPTION_PREFIX + option[:MAX_OPTION]


def option_of(payload: str | None) -> str | None:
    """The option a pressed button stands for, or None when the payload is not an option's."""
    if not payload or not payload.startswith(OPTION_PREFIX):
        return None
    option = payload[len(OPTION_PREFIX):].strip()
    return option if option and len(option) <= MAX_OPTION else None
