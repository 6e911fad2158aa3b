"""A question to a person with its answers as buttons: a WeCom button_interaction template_card whose press
comes back as EventKey `opt|<answer>`, read as the answer typed (conversations.messages, bot/wecom/event.py)."""
from __future__ import annotations

from typing import Any

from bot.plain_text import no_links
from bot.wecom.render import MAX_BUTTONS, template_card
from conversations.messages import option_payload
from dispatch.cards import Button, Card

# WeCom's advised lengths: it elides beyond them, so a longer question goes as text with a line to type
# instead (bot/wecom/messenger.with_options), never cut.
TITLE = 26          # main_title.title
TEXT = 160          # sub_title_text of an app message's template card
BUTTON_TEXT = 10    # a button's text


def question_card(text: str, options: tuple[str, ...], task: str) -> dict[str, Any] | None:
    """The card: the first line as its title (the whole question as its text when that line is too long),
    one button per answer, the first one primary; None when the question does not fit a card."""
    if not options or len(options) > MAX_BUTTONS or any(len(o) > BUTTON_TEXT for o in options):
        return None
    lines = text.strip().splitlines()
    title, rest = lines[0].strip(), "\n".join(lines[1:]).strip()
    if len(title) > TITLE:
        title, rest = "", text.strip()
    if len(rest) > TEXT:
        return None
    buttons = tuple(Button(o, option_payload(o), "primary" if i == 0 else "default") for i, o in enumerate(options))
    card = template_card(Card(title=no_links(title), body=no_links(rest), buttons=buttons), task)
    if not title:  # main_title.title or sub_title_text must be given: here the text is
        del card["main_title"]
    return card


def question_payload(user: str, text: str, options: tuple[str, ...], task: str) -> dict[str, Any] | None:
    """message/send's body for the question to one member, or None (see `question_card`)."""
    card = question_card(text, options, task)
    return None if card is None else {"touser": user, "msgtype": "template_card", "template_card": card}
