"""The resident's answers in chat after 接单 (contract.md "Lifecycle"): 同意 / 不同意, 已修好 / 没修好, the
survey's scores then a comment or 跳过, and 投诉 at any time.

Fallbacks of conversations/commands.py: matched on the words alone (after trimming and full-width folding),
so a message that is none of them never costs a query. What the words answer is the person's latest ticket
that asks it (`Ticket.awaiting`); what comes after an answer (the survey's comment, a complaint's text) is
kept in the conversation's state (`Turn.answers`), never polled from the database.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from conversations.intake import Draft, Turn, advance, handle_text
from conversations.textcheck import fold_width, is_meaningless
from templates.words import alternation, buttons, labels

_BUTTONS = buttons()
_NUMBER = r"BX\d{8}-\d{4,}"
# word → the answer it gives; 不同意 is listed before 同意 (the longer first).
_WORD_KEYS = {w: key for key in ("disagree", "agree", "not_fixed", "fixed") for w in _BUTTONS[key].words}
_TRAILING = "".join(sorted({c for key in ("agree", "disagree", "fixed", "not_fixed", "skip")
                            for c in _BUTTONS[key].trailing}))
_ANSWER = re.compile(rf"^(?P<word>{alternation(list(_WORD_KEYS))})[{re.escape(_TRAILING)}]*"
                     rf"(?:\s*[:：]?\s*(?P<number>{_NUMBER}))?[{re.escape(_TRAILING)}\s]*$", re.IGNORECASE)
# One score (「5」「5分」) or three: quality, service, communication (「5 4 5」「5,4,5」「5/4/5」).
_AFTER_SCORE = f"[{re.escape(_BUTTONS['score'].trailing)}]*"
_ONE_SCORE = re.compile(rf"^(?P<s>{alternation(_BUTTONS['score'].words)})\s*{_AFTER_SCORE}$")
_THREE_SCORES = re.compile(rf"^(?P<q>[1-5])\s*[\s,，、/]\s*(?P<s>[1-5])\s*[\s,，、/]\s*(?P<c>[1-5]){_AFTER_SCORE}$")
_SKIP = _BUTTONS["skip"]
_COMPLAINT = re.compile(rf"^(?:{alternation(_BUTTONS['complaint'].words)})(?P<rest>.*)$", re.DOTALL)
_NUMBER_IN = re.compile(_NUMBER, re.IGNORECASE)
_FILLER = re.compile(r"^[\s:：,，。.!！、\-]+|[\s:：,，。.!！、\-]+$")

ACTIONS = {("quote", "agree"): "quote_agree", ("quote", "disagree"): "quote_decline",
           ("visit", "agree"): "visit_agree", ("visit", "disagree"): "visit_decline",
           ("signoff", "fixed"): "signoff_fixed", ("signoff", "not_fixed"): "signoff_not_fixed"}
ASKED_BY = {"agree": ("quote", "visit"), "disagree": ("quote", "visit"), "fixed": ("signoff",),
            "not_fixed": ("signoff",)}
EVERY_QUESTION = ("quote", "visit", "signoff", "survey")


def _folded(text: str) -> str:
    return fold_width(text).strip()


# ---- matching (no database) -------------------------------------------------------------------------

def match_answer(text: str) -> str | None:
    """「同意」「不同意 BX…」「已修好」「没修好」 → "agree" / "disagree BX…" / "fixed" / "not_fixed"."""
    m = _ANSWER.match(_folded(text))
    if m is None:
        return None
    key = _WORD_KEYS[m.group("word")]
    return f"{key} {m.group('number').upper()}" if m.group("number") else key


def parse_scores(text: str) -> dict[str, int] | None:
    """BR-26: 「4」 → {"overall": 4}; 「5 4 5」 → {"quality": 5, "service": 4, "communication": 5}."""
    text = _folded(text)
    m = _ONE_SCORE.match(text)
    if m:
        return {"overall": int(m.group("s"))}
    m = _THREE_SCORES.match(text)
    if m:
        return {"quality": int(m.group("q")), "service": int(m.group("s")), "communication": int(m.group("c"))}
    return None


def match_scores(text: str) -> str | None:
    return _folded(text) if parse_scores(text) is not None else None


def match_skip(text: str) -> str | None:
    return "" if _SKIP.matches(_folded(text)) else None


def match_complaint(text: str) -> str | None:
    """「投诉」 alone, or followed by what happened and maybe a ticket number: the rest of the message."""
    m = _COMPLAINT.match(_folded(text))
    return m.group("rest") if m else None


# ---- the conversation's own memory of what it asked -------------------------------------------------

def waiting(turn: Turn) -> dict[str, Any]:
    """What the last answer asked for (a comment for a ticket, a complaint's text), while it is fresh:
    as long as an intake draft stays open (`draft_ttl`)."""
    pending = turn.answers
    if not pending or not pending.get("at"):
        return {}
    if turn.now - datetime.fromisoformat(pending["at"]) > timedelta(seconds=turn.deps.intake.draft_ttl):
        return {}
    return pending


def _wait_for(turn: Turn, what: str, number: str) -> None:
    turn.answers = {what: number, "at": turn.now.isoformat()}


async def _carry_on(turn: Turn, draft: Draft | None) -> Draft | None:
    """As commands.reask: after the answer, an open report's question is asked again."""
    if draft is not None and draft.state is not None:
        await advance(turn, draft)
    return draft


# ---- the handlers (commands.FALLBACKS) --------------------------------------------------------------

async def handle_answer(turn: Turn, draft: Draft | None, arg: str) -> Draft | None:
    """同意 / 不同意 answer the quote or the visit time the person's latest waiting ticket asks; 已修好 /
    没修好 its sign-off. With a ticket number, that ticket (if it is theirs)."""
    from dispatch.resident import answer, awaiting_ticket

    key, _, number = arg.partition(" ")
    session = await turn.db.session()
    channel, user = turn.msg.channel, turn.msg.user
    ticket = await awaiting_ticket(session, channel, user, ASKED_BY[key], number or None)
    if ticket is None and number:
        turn.say("tickets/not_found.j2", number=number)
        return await _carry_on(turn, draft)
    if ticket is None or ticket.awaiting not in ASKED_BY[key]:
        await _nothing_to_answer(turn, labels(key)[0], ticket)
        return await _carry_on(turn, draft)
    action = ACTIONS[(ticket.awaiting, key)]
    result = await answer(session, channel, user, action, turn.now, policy=turn.deps.policy, number=ticket.number,
                          ticket=ticket)
    turn.say("resident/answered.j2", outcome=result.outcome, action=action, t=result.ticket or ticket)
    return await _carry_on(turn, draft)


async def handle_scores(turn: Turn, draft: Draft | None, arg: str) -> Draft | None:
    """The survey's scores (BR-26). During a report `1` means 公共区域 or 确认: the intake wins."""
    from dispatch.resident import awaiting_ticket, record_scores

    if draft is not None and draft.state is not None:
        return await handle_text(turn, draft)
    scores = parse_scores(arg) or {}
    session = await turn.db.session()
    channel, user = turn.msg.channel, turn.msg.user
    ticket = await awaiting_ticket(session, channel, user, ("survey",))
    if ticket is None:
        await _nothing_to_answer(turn, arg, None)
        return draft
    result = await record_scores(session, ticket, scores, turn.now, turn.deps.policy, actor=(channel, user))
    if result.outcome != "ok":
        turn.say("resident/answered.j2", outcome=result.outcome, action="survey_done", t=result.ticket or ticket)
        return draft
    _wait_for(turn, "comment", ticket.number)
    turn.say("resident/scored.j2", options=labels("skip"), t=result.ticket, scores=scores,
             overall=result.ticket.rating)
    return draft


async def handle_skip(turn: Turn, draft: Draft | None, arg: str) -> Draft | None:
    """跳过: no comment after the scores."""
    pending = waiting(turn)
    turn.answers = {}
    if not pending.get("comment"):
        await _nothing_to_answer(turn, labels("skip")[0], None)
        return await _carry_on(turn, draft)
    await _comment(turn, pending["comment"], "")
    return await _carry_on(turn, draft)


async def handle_complaint(turn: Turn, draft: Draft | None, rest: str) -> Draft | None:
    """投诉 [BX…] [what happened] (BR-27): straight to the supervisors; with no text, what happened is asked
    and the next message is the complaint."""
    found = _NUMBER_IN.search(rest)
    number = found.group().upper() if found else ""
    text = _FILLER.sub("", _NUMBER_IN.sub(" ", rest)).strip()
    if not text or is_meaningless(text):
        _wait_for(turn, "complaint", number)
        turn.say("resident/complaint_ask.j2", number=number)
        return draft
    await _complain(turn, text, number)
    return await _carry_on(turn, draft)


async def follow_up(turn: Turn, draft: Draft | None, pending: dict[str, Any]) -> Draft | None:
    """The message after a question of ours that takes any text: the survey's comment, a complaint's text."""
    turn.answers = {}
    text = turn.msg.text.strip()
    if pending.get("comment"):
        await _comment(turn, pending["comment"], text)
    elif "complaint" in pending:
        await _complain(turn, text, pending["complaint"])
    return await _carry_on(turn, draft)


async def cancel_pending(turn: Turn, draft: Draft | None, pending: dict[str, Any]) -> Draft | None:
    """取消 while a comment or a complaint's text is awaited cancels that, not an open report: no comment
    (as 跳过), or no complaint."""
    turn.answers = {}
    if pending.get("comment"):
        await _comment(turn, pending["comment"], "")
    else:
        turn.say("resident/complaint_cancelled.j2")
    return await _carry_on(turn, draft)


# ---- shared steps --------------------------------------------------------------------------------

async def _nothing_to_answer(turn: Turn, word: str, ticket: Any) -> None:
    """Nothing asks this of the person: say so, and name what is waiting for them instead, if anything."""
    from dispatch.prompts import options_of
    from dispatch.resident import awaiting_ticket

    other = ticket if ticket is not None and ticket.awaiting else None
    if other is None:
        other = await awaiting_ticket(await turn.db.session(), turn.msg.channel, turn.msg.user, EVERY_QUESTION)
    kind = other.awaiting if other is not None else ""
    turn.say("resident/nothing_awaiting.j2", options=options_of(kind) if kind else (), word=word, t=other, kind=kind)


async def _comment(turn: Turn, number: str, comment: str) -> None:
    from dispatch.resident import record_comment
    from dispatch.tickets import get_ticket

    session = await turn.db.session()
    ticket = await get_ticket(session, number)
    if ticket is None:
        turn.say("tickets/not_found.j2", number=number)
        return
    result = await record_comment(session, ticket, comment, turn.now, turn.deps.policy,
                                  actor=(turn.msg.channel, turn.msg.user))
    turn.say("resident/commented.j2", outcome=result.outcome, skipped=not comment, t=ticket)


async def _complain(turn: Turn, text: str, number: str) -> None:
    from dispatch.complaints import open_complaint

    session = await turn.db.session()
    complaint = await open_complaint(session, turn.msg.channel, turn.msg.user, text, number or None, turn.now,
                                     turn.deps.policy)
    turn.say("resident/complaint_opened.j2", number=getattr(complaint, "number", "") or "", ticket=number)
