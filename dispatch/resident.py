"""The resident's answers after 接单 (contract.md "Lifecycle"): a quote (BR-13), a new visit time (BR-11/12),
sign-off (BR-21) and the survey (BR-26); each a status change of dispatch.lifecycle, acted on once."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import audit, lifecycle, prefetch
from dispatch.actions import WITH_ASSIGNEE, ActionResult
from dispatch.aftercare import after_verified, asking
from dispatch.job import transition
from dispatch.policy import Policy
from dispatch.routing import refresh_cards, tell_assignee, tell_roles
from store.db import dialect_name
from store.models import Ticket, TicketWatcher

# action → what the ticket must be asking (`Ticket.awaiting`, set by dispatch/prompts.py) for it to be the answer
ASKS = {"quote_agree": "quote", "quote_decline": "quote", "visit_agree": "visit", "visit_decline": "visit",
        "signoff_fixed": "signoff", "signoff_not_fixed": "signoff"}
SCORE_KEYS = ("quality", "service", "communication")   # BR-26: product quality, repair service, communication
LOW_SCORE = 2            # an overall score at or below this alerts the trade's supervisors
SYSTEM = "system"        # the actor and channel of what a timer does
SUPERVISORS = ("supervisor", "manager")   # of the ticket's trade (BR-21: the manager hears of a rework)


def _changes(action: str, t: Ticket, now: datetime) -> dict[str, Any]:
    """The columns an answer sets besides `status`, `awaiting` and `version`."""
    return {
        "quote_agree": lambda: {"quote_status": "agreed"},
        "quote_decline": lambda: {"quote_status": "declined"},
        "visit_agree": lambda: {"visit_text": t.proposed_visit_text, "visit_at": t.proposed_visit_at,
                                "proposed_visit_text": "", "proposed_visit_at": None},
        "visit_decline": lambda: {"proposed_visit_text": "", "proposed_visit_at": None},
        "signoff_fixed": lambda: {"signoff": "fixed", "verified_at": now, "signoff_due_at": None},
        # The same technician keeps it (rework); the next 完工 asks again.
        "signoff_not_fixed": lambda: {"signoff": "not_fixed", "signoff_due_at": None},
    }[action]()


def _details(action: str, t: Ticket) -> dict[str, Any]:
    """What the audit event keeps of the answer (read before the change)."""
    if action.startswith("quote_"):
        return {"total": str(t.quote) if t.quote is not None else None}
    if action.startswith("visit_"):
        return {"visit_text": t.proposed_visit_text}
    return {}


async def awaiting_ticket(session: AsyncSession, channel: str, user: str, asks: Iterable[str],
                          number: str | None = None) -> Ticket | None:
    """The ticket this person answers: `number` if it is theirs (reporter or watcher), else their latest
    ticket whose `awaiting` is one of `asks` (ix_tickets_awaiting; their watched tickets after that)."""
    prefetching = dialect_name(session) == "postgresql"
    params = {"channel": channel, "user": user, **({"number": number} if number else {"asks": list(asks)})}
    for watched in (False, True):
        row = (await session.execute(_awaiting_statement(watched, bool(number), prefetching), params)).unique().first()
        if row is not None:
            if prefetching:
                prefetch.keep(session, row[0].id, *row[1:])
            return row[0]
    return None


@lru_cache(maxsize=8)
def _awaiting_statement(watched: bool, by_number: bool, prefetching: bool):
    """`awaiting_ticket`'s statement, built once: the person's own tickets or those they watch, by number or by
    what the ticket asks; with the assignee (one statement, no audit trail), and on PostgreSQL the answer's
    other reads (timers, trail, card copies: dispatch/prefetch.py)."""
    channel, user = bindparam("channel"), bindparam("user")
    if watched:
        whose = Ticket.id.in_(select(TicketWatcher.ticket_id).where(TicketWatcher.channel == channel,
                                                                    TicketWatcher.user_id == user))
    else:
        whose = (Ticket.reporter_channel == channel) & (Ticket.reporter_user == user)
    stmt = select(Ticket, *(prefetch.COLUMNS if prefetching else ())).where(whose).options(*WITH_ASSIGNEE)
    if by_number:
        return stmt.where(Ticket.number == bindparam("number"))
    return (stmt.where(Ticket.awaiting.in_(bindparam("asks", expanding=True))).order_by(Ticket.id.desc())
            .limit(1))


async def answer(session: AsyncSession, channel: str, user: str, action: str, now: datetime, *, policy: Policy,
                 number: str | None = None, ticket: Ticket | None = None) -> ActionResult:
    """同意 / 不同意 (a quote or a visit time), 已修好 / 没修好: one conditional UPDATE decides, so an answer
    sent twice (or by the reporter and a watcher at once) acts once; one audit event; the technician hears.

    `ticket`: the one `awaiting_ticket` just found for this person (not read again).

    Outcomes: ok; nothing_awaiting (no ticket of theirs asks this; `number` None); unknown_ticket (`number`
    is not theirs: it reads like one that does not exist); bad_state (the ticket does not ask this now,
    detail = the action); invalid (not a resident's action).
    """
    asks = ASKS.get(action)
    if asks is None:
        return ActionResult("invalid", detail="action")
    if ticket is None:
        ticket = await awaiting_ticket(session, channel, user, (asks,), number)
    if ticket is None:
        return ActionResult("unknown_ticket" if number else "nothing_awaiting")
    if ticket.awaiting != asks or not lifecycle.allowed(action, ticket.status):
        return ActionResult("bad_state", ticket, detail=action)
    details = _details(action, ticket)
    survey = asking(ticket, now) if action == "signoff_fixed" else {}     # BR-26: asked by the same UPDATE
    # On the version just read, which awaited this answer: of two answers at once, one moves the ticket.
    if not await transition(session, ticket, action, now, f"{channel}:{user}", channel,
                            {"awaiting": "", **_changes(action, ticket, now), **survey}, policy=policy, **details):
        return ActionResult("bad_state", ticket, detail=action)
    await refresh_cards(session, ticket, now, clicked=None, reply_token="")
    await FOLLOW[action](session, ticket, now, policy, details)
    if action == "signoff_fixed":
        await after_verified(session, ticket, now, policy, asked=bool(survey))
    return ActionResult("ok", ticket)


async def auto_signoff(session: AsyncSession, ticket_id: int, now: datetime, policy: Policy) -> ActionResult:
    """The sign-off timer (BR-21): no answer in 24 h counts as accepted, recorded as signoff "auto"; a
    ticket answered, reworked or already verified meanwhile is left alone."""
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        return ActionResult("unknown_ticket")
    if not lifecycle.allowed("signoff_auto", ticket.status) or ticket.signoff:
        return ActionResult("bad_state", ticket, detail="signoff_auto")
    if ticket.signoff_due_at is not None and now < ticket.signoff_due_at:
        return ActionResult("bad_state", ticket, detail="not_due")
    survey = asking(ticket, now)
    if not await transition(session, ticket, "signoff_auto", now, SYSTEM, SYSTEM,
                            {"signoff": "auto", "verified_at": now, "signoff_due_at": None,
                             "awaiting": "" if ticket.awaiting == "signoff" else ticket.awaiting, **survey},
                            hours=_hours(ticket, now)):
        return ActionResult("bad_state", ticket, detail="signoff_auto")
    await session.refresh(ticket, ["assignee"])
    await refresh_cards(session, ticket, now, clicked=None, reply_token="")
    await tell_assignee(session, ticket, now, "notify/signoff_auto.j2", policy.channels)
    await after_verified(session, ticket, now, policy, asked=bool(survey))
    return ActionResult("ok", ticket)


# ---- the survey (BR-26) ---------------------------------------------------------------------------------

def overall_of(scores: dict[str, int]) -> int:
    """One score is the overall one; three (quality, service, communication) give their mean, rounded half up."""
    if "overall" in scores:
        return scores["overall"]
    values = [scores[k] for k in SCORE_KEYS]
    return int(sum(values) / len(values) + 0.5)


def _valid_scores(scores: dict[str, Any]) -> bool:
    keys = set(scores)
    if keys not in ({"overall"}, set(SCORE_KEYS)):
        return False
    return all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5 for v in scores.values())


async def record_scores(session: AsyncSession, ticket: Ticket, scores: dict[str, int], now: datetime,
                        policy: Policy, *, actor: tuple[str, str] = ("", "")) -> ActionResult:
    """The survey's answer: `{"overall": n}` or `{"quality", "service", "communication"}` (1–5). Kept in
    `ticket.survey` and `ticket.rating` (the overall score); the ticket closes (`survey_done`). An overall
    score of 1–2 alerts the trade's supervisors. A second answer changes nothing (bad_state)."""
    if not _valid_scores(scores):
        return ActionResult("invalid", ticket, detail="scores")
    if ticket.awaiting != "survey" or not lifecycle.allowed("survey_done", ticket.status):
        return ActionResult("bad_state", ticket, detail="survey_done")
    overall = overall_of(scores)
    survey = {**(ticket.survey or {}), **scores, "overall": overall, "status": "answered",
              "answered_at": now.isoformat()}
    channel, user = actor
    if not await transition(session, ticket, "survey_done", now,
                            f"{channel}:{user}" if channel else ticket_actor(ticket), channel or SYSTEM,
                            {"closed_at": now, "awaiting": "", "rating": overall, "survey": survey},
                            survey="answered", **{**scores, "overall": overall}):
        return ActionResult("bad_state", ticket, detail="survey_done")
    await refresh_cards(session, ticket, now, clicked=None, reply_token="")
    if overall <= LOW_SCORE:
        await tell_roles(session, ticket, now, SUPERVISORS, "notify/low_score.j2", policy.channels)
    return ActionResult("ok", ticket)


async def record_comment(session: AsyncSession, ticket: Ticket, comment: str, now: datetime, policy: Policy,
                         *, actor: tuple[str, str] = ("", "")) -> ActionResult:
    """The survey's optional comment after the scores ("" when the resident skipped it); once. A comment on a
    low score goes to the supervisors who were alerted."""
    survey = dict(ticket.survey or {})
    if survey.get("status") != "answered" or "comment" in survey:
        return ActionResult("bad_state", ticket, detail="survey_comment")
    survey["comment"] = comment
    won = await session.execute(
        update(Ticket).where(Ticket.id == ticket.id, Ticket.version == ticket.version)
        .values(survey=survey, version=Ticket.version + 1).execution_options(synchronize_session=False))
    await session.refresh(ticket)
    if won.rowcount != 1:
        return ActionResult("bad_state", ticket, detail="survey_comment")
    channel, user = actor
    details = {"comment": comment} if comment else {"skipped": True}
    audit.record(session, ticket.id, now, (f"{channel}:{user}" if channel else ticket_actor(ticket))[:128],
                 (channel or SYSTEM)[:16], "survey_comment", ticket.status, ticket.status, details)
    if comment and int(survey.get("overall") or 5) <= LOW_SCORE:
        await tell_roles(session, ticket, now, SUPERVISORS, "notify/low_score_comment.j2", policy.channels,
                         comment=comment)
    return ActionResult("ok", ticket)


def ticket_actor(ticket: Ticket) -> str:
    return f"{ticket.reporter_channel}:{ticket.reporter_user}"


# ---- who hears of an answer --------------------------------------------------------------------------

Follow = Callable[[AsyncSession, Ticket, datetime, Policy, dict[str, Any]], Awaitable[None]]


async def _quote_agreed(session, ticket, now, policy, details) -> None:
    await tell_assignee(session, ticket, now, "notify/quote_agreed.j2", policy.channels)


async def _quote_declined(session, ticket, now, policy, details) -> None:
    # BR-13: a disputed quote goes to the housekeeper to negotiate; the trade's supervisors and the
    # technician know where it stands. Every notice carries the resident's phone.
    await tell_roles(session, ticket, now, ("housekeeper", *SUPERVISORS), "notify/quote_declined.j2", policy.channels)
    await tell_assignee(session, ticket, now, "notify/quote_declined.j2", policy.channels)


async def _visit_agreed(session, ticket, now, policy, details) -> None:
    await tell_assignee(session, ticket, now, "notify/visit_agreed.j2", policy.channels)


async def _visit_declined(session, ticket, now, policy, details) -> None:
    # BR-11/12: the technician calls the resident to agree another time.
    await tell_assignee(session, ticket, now, "notify/visit_declined.j2", policy.channels,
                        proposed=details.get("visit_text", ""))


async def _fixed(session, ticket, now, policy, details) -> None:
    await tell_assignee(session, ticket, now, "notify/signoff_fixed.j2", policy.channels)


async def _not_fixed(session, ticket, now, policy, details) -> None:
    # BR-21: work that fails acceptance goes back for rework, and the manager is told (SUPERVISORS:
    # includes the managers of the trade).
    await tell_assignee(session, ticket, now, "notify/signoff_not_fixed.j2", policy.channels)
    await tell_roles(session, ticket, now, SUPERVISORS, "notify/rework_alert.j2", policy.channels)


FOLLOW: dict[str, Follow] = {
    "quote_agree": _quote_agreed, "quote_decline": _quote_declined, "visit_agree": _visit_agreed,
    "visit_decline": _visit_declined, "signoff_fixed": _fixed, "signoff_not_fixed": _not_fixed,
}


def _hours(ticket: Ticket, now: datetime) -> float:
    since = ticket.completed_at or now
    return round((now - since).total_seconds() / 3600, 1)

