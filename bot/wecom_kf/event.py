"""WeCom kf: the `kf_msg_or_event` callback → KfEvent, and one sync_msg item → what the service uses."""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from bot.untrusted import Unreadable, xml_fields

CUSTOMER = 3   # origin of a message the WeChat customer sent (4: system event, 5: a servicer in WeCom)


@dataclass(frozen=True)
class KfEvent:
    """New kf messages are waiting: sync them with this token (valid 10 minutes) for this kf account."""

    open_kfid: str
    token: str
    create_time: str = ""
    corp_id: str = ""

    @property
    def dedupe_id(self) -> str:
        # Every callback carries a fresh token: a WeCom retry repeats it, a new batch does not.
        return "evt:" + hashlib.sha1(f"{self.open_kfid}:{self.token}".encode()).hexdigest()

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def parse_kf_event(xml: str | bytes) -> KfEvent | None:
    """The kf event in a decrypted WeCom callback; None for anything else (other events, bad XML)."""
    try:
        return kf_event_from(xml_fields(xml))
    except Unreadable:
        return None


def kf_event_from(root: dict) -> KfEvent | None:
    """The kf event in an already parsed <xml> element; None for anything else."""
    if _s(root, "MsgType") != "event" or _s(root, "Event") != "kf_msg_or_event":
        return None
    open_kfid, token = _s(root, "OpenKfId"), _s(root, "Token")
    if not open_kfid or not token:
        return None
    return KfEvent(open_kfid=open_kfid, token=token, create_time=_s(root, "CreateTime"),
                   corp_id=_s(root, "ToUserName"))


def _s(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    return value.strip() if isinstance(value, str) else ""


@dataclass(frozen=True)
class KfMessage:
    """One customer message from sync_msg, reduced to what the service uses."""

    kind: str              # text | image | voice | unsupported
    msgid: str
    open_kfid: str
    external_userid: str
    send_time: int = 0
    text: str = ""
    media_id: str = ""
    raw_type: str = ""


def is_customer_message(item: dict[str, Any]) -> bool:
    return (item.get("origin") == CUSTOMER and bool(item.get("msgid")) and bool(item.get("external_userid"))
            and item.get("msgtype") != "event")


def to_message(item: dict[str, Any]) -> KfMessage:
    msgtype = str(item.get("msgtype", ""))
    base = {"msgid": str(item["msgid"]), "open_kfid": str(item.get("open_kfid", "")),
            "external_userid": str(item["external_userid"]), "send_time": int(item.get("send_time") or 0),
            "raw_type": msgtype}
    body = item.get(msgtype) if isinstance(item.get(msgtype), dict) else {}
    if msgtype == "text":
        # A tapped menu option arrives as text (with menu_id): the engine reads it like typed text.
        return KfMessage("text", text=str(body.get("content", "")), **base)
    if msgtype == "image" and body.get("media_id"):
        return KfMessage("image", media_id=str(body["media_id"]), **base)
    if msgtype == "voice":
        return KfMessage("voice", media_id=str(body.get("media_id", "")), **base)
    if msgtype == "location":
        label = " ".join(str(body.get(k, "")) for k in ("name", "address") if body.get(k))
        if label:
            return KfMessage("text", text=label, **base)
    return KfMessage("unsupported", **base)
