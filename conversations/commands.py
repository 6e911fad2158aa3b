"""The fallbacks: words that work in any state (cancel, help, my reports, a ticket number, a complaint, the
resident's answers after 接单, a greeting).

Beside the step table (conversations/intake.py STEPS), the shape of python-telegram-bot's
ConversationHandler fallbacks: the first entry whose words fit the message handles it, whatever the state.
"""
from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from conversations import answers
from conversations.intake import Draft, Turn, advance
from conversations.textcheck import is_greeting
from templates.words import alternation, buttons

_BUTTONS = buttons()
_NUMBER = re.compile(rf"(?:{alternation(_BUTTONS['query'].words)})?\s*[:：]?\s*(BX\d{{8}}-\d{{4,}})\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Fallback:
    name: str
    match: Callable[[str], str | None]   # the message's argument ("" when it has none), None: not this one
    handle: Callable[[Turn, Draft | None, str], Awaitable[Draft | None]]


async def reask(turn: Turn, draft: Draft | None) -> Draft | None:
    """After a fallback's answer the conversation carries on where it was: its question is asked again."""
    if draft is not None and draft.state is not None:
        await advance(turn, draft)
    return draft


def _words(key: str) -> Callable[[str], str | None]:
    choice = _BUTTONS[key]
    return lambda text: "" if choice.matches(text) else None


def _ticket_number(text: str) -> str | None:
    m = _NUMBER.fullmatch(text.strip())
    return m.group(1).upper() if m else None


def _greeting(text: str) -> str | None:
    return "" if is_greeting(text) else None


async def _cancel(turn: Turn, draft: Draft | None, arg: str) -> Draft | None:
    turn.say("intake/cancelled.j2" if draft else "intake/nothing_to_cancel.j2")
    return None


async def _help(turn: Turn, draft: Draft | None, arg: str) -> Draft | None:
    turn.say("intake/help.j2")
    return await reask(turn, draft)


async def _mine(turn: Turn, draft: Draft | None, arg: str) -> Draft | None:
    from dispatch.tickets import tickets_of

    tickets = await tickets_of(await turn.db.session(), turn.msg.channel, turn.msg.user)
    turn.say("tickets/mine.j2", tickets=tickets)
    return await reask(turn, draft)


async def _query(turn: Turn, draft: Draft | None, number: str) -> Draft | None:
    from dispatch.tickets import visible_ticket

    # Someone else's ticket reads exactly like a number that does not exist.
    ticket = await visible_ticket(await turn.db.session(), number, turn.msg.channel, turn.msg.user)
    turn.say("tickets/detail.j2" if ticket else "tickets/not_found.j2", t=ticket, number=number)
    return await reask(turn, draft)


async def _greet(turn: Turn, draft: Draft | None, arg: str) -> Draft | None:
    if draft is None:
        turn.say("intake/welcome.j2")  # a greeting creates nothing
        return None
    return await reask(turn, draft)


# In order: the first that fits wins ("查询" alone is `mine`; "查询 BX…" is `query`).
FALLBACKS: tuple[Fallback, ...] = (
    Fallback("cancel", _words("cancel"), _cancel),
    Fallback("help", _words("help"), _help),
    Fallback("mine", _words("mine"), _mine),
    Fallback("complaint", answers.match_complaint, answers.handle_complaint),   # 投诉 [BX…] (BR-27)
    Fallback("query", _ticket_number, _query),
    # The resident's answers after 接单 (conversations/answers.py): a query only when the words fit.
    Fallback("answer", answers.match_answer, answers.handle_answer),           # 同意 不同意 已修好 没修好
    Fallback("score", answers.match_scores, answers.handle_scores),            # 1–5 or 「5 4 5」 (BR-26)
    Fallback("skip", answers.match_skip, answers.handle_skip),                 # 跳过: no comment
    Fallback("greeting", _greeting, _greet),
)


def match_fallback(text: str) -> tuple[Fallback, str] | None:
    """The fallback a message asks for, and its argument."""
    for fallback in FALLBACKS:
        arg = fallback.match(text)
        if arg is not None:
            return fallback, arg
    return None
