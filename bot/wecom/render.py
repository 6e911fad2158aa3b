"""Neutral Card → WeCom JSON: a button_interaction template_card for 1:1, markdown for app group chats."""
from __future__ import annotations

import re
import secrets
from typing import Any

from bot.plain_text import no_links
from dispatch.cards import Card
from dispatch.ticket_card import JOB_TAG

# WeCom's Button.style takes 1..4 (default 1); the docs show the colours only as a picture:
# 1 is the blue primary button, 2 the plain one, 3 the red one.
STYLES = {"primary": 1, "default": 2, "danger": 3}
MAX_BUTTONS = 6            # button_list length limit
MAX_FIELDS = 6             # horizontal_content_list length limit
MAX_TASK_ID = 128          # bytes; digits, letters and _-@ only
SETTLED_KEY = "settled"    # the key of a settled card's greyed button (never decodes as an action)
_TASK_ID_BAD = re.compile(r"[^0-9A-Za-z_\-@]")
# WeCom markdown has headings, bold, links, inline code, quotes, <font> and <@userid> mentions, and
# documents no escape: in text we did not write, each markup character becomes its full-width form,
# which reads the same to a Chinese reader and never forms markup (HTML entities are not used: the
# client may decode them after parsing). "://" loses its colon the same way, so no bare address links.
_MD_FULL_WIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "\\`*_~[]()#<>&|"})
_NEWLINES = re.compile(r"\s*[\r\n]+\s*")


def task_id(card_key: str, recipient: str, now_ms: int) -> str:
    """Unique per copy and per app forever (WeCom refuses a reused task_id with 42014, even after restarts)."""
    suffix = f"{now_ms}{secrets.token_hex(3)}"
    head = _TASK_ID_BAD.sub("_", f"{card_key or 'card'}-{recipient}")
    return f"{head[:MAX_TASK_ID - len(suffix) - 1]}-{suffix}"


def _common(card: Card) -> dict[str, Any]:
    # WeCom's length limits on texts are recommendations (it wraps or elides); only list lengths are hard.
    out: dict[str, Any] = {"main_title": {"title": card.title}}
    if card.fields:
        out["horizontal_content_list"] = [{"keyname": k, "value": v} for k, v in card.fields[:MAX_FIELDS]]
    # Rows beyond the list's limit still reach the reader, as plain lines under the title; a live card's
    # status (the job card's "维修中") leads them, a settled one's is the greyed button's text instead.
    rest = ([card.status] if card.status and card.buttons else []) \
        + [f"{k}：{v}" for k, v in card.fields[MAX_FIELDS:]] + ([card.body] if card.body else [])
    if rest:
        out["sub_title_text"] = "\n".join(rest)
    if card.link:
        out["card_action"] = {"type": 1, "url": card.link}
    else:
        out["card_action"] = {"type": 0}
    return out


def template_card(card: Card, task: str) -> dict[str, Any]:
    """The live card: buttons whose key is our payload string (comes back as EventKey)."""
    buttons = [{"type": 0, "text": b.label, "style": STYLES.get(b.style, 2), "key": b.payload}
               for b in card.buttons[:MAX_BUTTONS]]
    return {"card_type": "button_interaction", "task_id": task, **_common(card), "button_list": buttons}


def settled_update(card: Card, response_code: str, agent_id: int) -> dict[str, Any]:
    """update_template_card body: every copy's buttons greyed and replaced by the card's status."""
    return {"atall": 1, "agentid": agent_id, "response_code": response_code,
            "button": {"replace_name": card.status or card.title}}


def full_update(card: Card, response_code: str, agent_id: int) -> dict[str, Any]:
    """update_template_card body that replaces the whole card ("更新为新的卡片"): new fields and new buttons,
    for a card whose reader still acts on it (the assignee's job card, the 签免 approver's). Without
    buttons the card keeps one greyed button carrying its status (`replace_text`)."""
    native = {"card_type": "button_interaction", **_common(card)}
    if card.buttons:
        native["button_list"] = [{"type": 0, "text": b.label, "style": STYLES.get(b.style, 2), "key": b.payload}
                                 for b in card.buttons[:MAX_BUTTONS]]
    else:
        status = card.status or card.title
        native["button_list"] = [{"type": 0, "text": status, "style": STYLES["default"], "key": SETTLED_KEY}]
        native["replace_text"] = status
    return {"atall": 1, "agentid": agent_id, "response_code": response_code, "template_card": native}


def rewrites_in_full(card: Card) -> bool:
    """A card whose reader still acts on it is rewritten in full; any other copy only has its buttons greyed."""
    return bool(card.buttons) or JOB_TAG in card.tags


def md_escape(text: str, *, one_line: bool = True) -> str:
    """Text as typed, inert in WeCom markdown: no link, heading, bold, code, tag or @mention."""
    if one_line:  # a value stays on its line: it cannot start a line of its own (a fake field, a quote)
        text = _NEWLINES.sub(" ", text.strip())
    return text.translate(_MD_FULL_WIDTH).replace("://", "\uff1a//")


def markdown(card: Card) -> str:
    """For app group chats, which cannot carry template cards: bold title, red when an emergency.

    Every text of the card (the resident's description, location and name among them) is escaped.
    """
    title = f"**{md_escape(card.title)}**"
    if card.emergency:
        title = f'<font color="warning">{title}</font>'
    lines = [title, *(f'> {md_escape(k)}：<font color="comment">{md_escape(v)}</font>' for k, v in card.fields)]
    if card.body:
        lines.append(md_escape(card.body, one_line=False))
    if card.status:
        lines.append(f"**{md_escape(card.status)}**")
    if card.link:
        lines.append(f"[{card.link}]({card.link})")
    return "\n".join(lines)


def text_payload(user: str, text: str) -> dict[str, Any]:
    return {"touser": user, "msgtype": "text", "text": {"content": no_links(text)}}


def card_payload(user: str, card: Card, task: str) -> dict[str, Any]:
    return {"touser": user, "msgtype": "template_card", "template_card": template_card(card, task)}


def chat_text(chat: str, text: str) -> dict[str, Any]:
    return {"chatid": chat, "msgtype": "text", "text": {"content": no_links(text)}}


def chat_markdown(chat: str, card: Card) -> dict[str, Any]:
    return {"chatid": chat, "msgtype": "markdown", "markdown": {"content": markdown(card)}}
