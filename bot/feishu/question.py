"""A question to a person with its answers as buttons: a Feishu interactive card whose press comes back as a
card action valued `opt|<answer>`, read as the answer typed (conversations.messages, bot/feishu/event.py)."""
from __future__ import annotations

from typing import Any

from bot.feishu.render import card
from conversations.messages import option_payload
from dispatch.cards import Button, Card


def question_card(text: str, options: tuple[str, ...]) -> dict[str, Any]:
    """The first line as the card's header, the rest as its (escaped) text, one button per answer."""
    lines = text.strip().splitlines()
    title, rest = lines[0].strip(), "\n".join(lines[1:]).strip()
    buttons = tuple(Button(o, option_payload(o), "primary" if i == 0 else "default") for i, o in enumerate(options))
    return card(Card(title=title, body=rest, buttons=buttons))
