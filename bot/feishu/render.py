"""Neutral Card → Feishu Card JSON 2.0, and text message content; everything a person reads is escaped."""
from __future__ import annotations

import re
from typing import Any

from dispatch.cards import Card

BUTTON_TYPES = {"primary": "primary", "default": "default", "danger": "danger"}
# Card markdown interprets * _ ~ [ ] ( ) # ` and <at>/<font> tags: a resident's description, or a masked
# phone (138****8000 would turn bold), must show as typed. Feishu decodes numeric entities in markdown.
_MD_SPECIAL = re.compile(r"[\\`*_~\[\]()#<>&-]")
# Text messages turn <at user_id="all"></at> into an @all: break the tag, keep the characters visible.
_AT_TAG = re.compile(r"<(\s*/?\s*at)", re.IGNORECASE)
_ID_SAFE = re.compile(r"[^0-9A-Za-z_\-]")


def md_escape(text: str) -> str:
    # "://" loses its colon too, so a bare address in a description is not turned into a link.
    return _MD_SPECIAL.sub(lambda m: f"&#{ord(m.group())};", text).replace("://", "&#58;//")


def _markdown(content: str) -> dict[str, Any]:
    return {"tag": "markdown", "content": content}


def _button(label: str, payload: str, style: str) -> dict[str, Any]:
    # The click comes back as event.action.value; the payload string is our own codec (dispatch.payloads).
    return {"tag": "button", "text": {"tag": "plain_text", "content": label},
            "type": BUTTON_TYPES.get(style, "default"),
            "behaviors": [{"type": "callback", "value": {"p": payload}}]}


def card(c: Card) -> dict[str, Any]:
    """A live card has buttons (a job card its status above them); a settled one shows `c.status` alone.
    update_multi: every viewer sees the same card and PATCH rewrites it for all of them."""
    template = "red" if c.emergency else ("blue" if c.buttons else "grey")
    elements: list[dict[str, Any]] = []
    if c.fields:
        elements.append(_markdown("\n".join(f"**{md_escape(k)}**：{md_escape(v)}" for k, v in c.fields)))
    if c.body:
        elements.append(_markdown(md_escape(c.body)))
    if c.link:
        elements.append(_markdown(f"[{md_escape(c.link)}]({c.link})"))
    if c.status:  # a live job card shows where the job stands above its buttons
        elements.append(_markdown(f"**{md_escape(c.status)}**"))
    if c.buttons:
        elements.append({"tag": "column_set", "flex_mode": "flow", "horizontal_spacing": "8px",
                         "columns": [{"tag": "column", "width": "auto",
                                      "elements": [_button(b.label, b.payload, b.style)]} for b in c.buttons]})
    return {
        "schema": "2.0",
        "config": {"update_multi": True},
        "header": {"title": {"tag": "plain_text", "content": c.title}, "template": template},
        "body": {"elements": elements},
    }


def text_content(text: str, mention: str = "") -> dict[str, Any]:
    """{"text": ...} for msg_type text; in a group, `mention` (an open_id) is @-ed so the resident sees it."""
    body = _AT_TAG.sub(lambda m: "<\u200b" + m.group(1), text)
    if mention:
        body = f'<at user_id="{_ID_SAFE.sub("", mention)}"></at> {body}'
    return {"text": body}
