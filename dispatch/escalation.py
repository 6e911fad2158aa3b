"""Escalation chains: each step of a ticket's clock (50 % → the assignee, 100 % → the trade's supervisor, +30 min →
the manager, +2 h → the director) as a timer, moved with the operational clock, answered with 已知晓 or 改派.

How the timers follow the ticket: every change of status (`dispatch.job.transition`, 接单, filing) calls `sync`
in its own transaction, which reads the clocks (dispatch/clocks.py) and makes the chain's timers agree with
them — a stopped clock's pending steps are cancelled, a paused clock's too (a resume schedules them again at
the due times the pause pushed back), a running clock's are (re)scheduled at `due + offset`. When a step
falls due it checks the clock again before it alerts, so a timer that a change forgot is harmless.

已知晓 (`acknowledge`) stops the later steps of that chain in the same commit and schedules one re-escalation
after `[sla] reescalate_after`: if the clock still runs then, the same level is alerted again and the stopped
steps resume, as far apart as the chain put them. Timers of a complaint's reply clock (BR-27) have no ticket.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, select, update

from dispatch import audit, outbox, prefetch, timers
from dispatch.clocks import DONE, SLA, Clock, ticket_clocks
from dispatch.duty import Duty, desk_now
from dispatch.policy import Policy
from dispatch.routing import CARD_PLATFORMS, staff_with_roles, tell_person
from store.models import Complaint, Person, Ticket, Timer

STEP, AGAIN, COMPLAINT_STEP = "escalation", "escalation_again", "complaint_escalation"
ALERT_KINDS = (STEP, AGAIN)
MAX_STEPS = 8
_AT = re.compile(r"^\s*(?:(?P<pct>\d{1,3})\s*%|\+\s*(?P<n>\d{1,5})\s*(?P<unit>[smhd]))\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
ROLES_OF = {"supervisor": ("supervisor",), "manager": ("manager",), "director": ("director",)}


@dataclass(frozen=True)
class Step:
    at: str          # "50%", "100%", "+30m", "+2h"
    notify: str      # assignee | supervisor | manager | director


@dataclass(frozen=True)
class Chain:
    category: str    # emergency | daily | complaint | *
    clock: str       # respond | arrive | finish | reply
    steps: tuple[Step, ...]


# contract.md: without any `[[escalation]]`, 100 % → the trade's supervisor, +30 min → manager, +2 h → director.
DEFAULT_STEPS = (Step("100%", "supervisor"), Step("+30m", "manager"), Step("+2h", "director"))


def step_offset(at: str, limit: int) -> float:
    """Seconds from the clock's due time to the step: "50%" of a 20 min clock is -600, "+30m" is 1800."""
    m = _AT.match(at or "")
    if not m:
        raise ValueError(f"{at!r} is not a step time: use a share of the clock (\"50%\", \"100%\") or a wait "
                         "after it runs out (\"+30m\", \"+2h\")")
    if m.group("pct") is not None:
        return (int(m.group("pct")) / 100 - 1) * limit
    return int(m.group("n")) * _UNITS[m.group("unit")]


def chain_for(policy: Policy, category: str, clock: str) -> tuple[Step, ...]:
    """The steps `[[escalation]]` gives this category's clock (its own entry before a "*" one); none when the
    configuration names chains but not this one; without any `[[escalation]]`, the default chain for every clock."""
    if not policy.chains:
        return DEFAULT_STEPS
    for wanted in (category, "*"):
        for chain in policy.chains:
            if chain.category == wanted and chain.clock == clock:
                return tuple(chain.steps)[:MAX_STEPS]
    return ()


def _key(ticket_id: int, clock: str, i: int) -> str:
    return f"esc:{ticket_id}:{clock}:{i}"


def _sla(policy: Policy) -> Any:
    return policy.sla if policy.sla is not None else SLA


async def clocks_of(session, ticket: Ticket, now: datetime, policy: Policy) -> dict[str, Clock]:
    """The ticket's clocks from its audit events as written so far in this transaction."""
    events = await audit.trail(session, ticket.id)
    view = SimpleNamespace(created_at=ticket.created_at, category=ticket.category, area=ticket.area,
                           status=ticket.status, visit_at=ticket.visit_at, events=events)
    return ticket_clocks(view, now, _sla(policy))


def _held(clock: Clock) -> bool:
    """Paused until someone acts (a hold, a quote or a new time awaiting the resident): no due time is known,
    the steps wait for the change that resumes it. A pause until the agreed visit time has a known end:
    its steps stay scheduled, at due times that already count it (dispatch/clocks.py)."""
    return clock.operational.paused and clock.operational.paused_for != "visit_time"


def _due(clock: Clock, step: Step, shift: float = 0) -> datetime:
    return clock.operational.due_at + timedelta(seconds=step_offset(step.at, clock.limit) + shift)


def _details(clock: str, i: int, step: Step, **more) -> dict:
    return {"clock": clock, "step": i, "at": step.at, "notify": step.notify, **more}


# ---- keeping the timers in step with the ticket ---------------------------------------------------------------

async def sync(session, ticket: Ticket, now: datetime, policy: Policy) -> None:
    """Make the ticket's escalation timers agree with its clocks, in the caller's transaction."""
    if ticket.id is None:
        await session.flush()
    held = prefetch.timers(session, ticket.id)
    if held is None:
        # Read through the session: timers it already holds as objects (a timer's own run) are edited there.
        loaded = list((await session.execute(
            select(Timer).where(Timer.ticket_id == ticket.id, Timer.kind == STEP))).scalars())
    else:
        loaded = [t for t in held if t.kind == STEP]
    cancel, repend, new = await _plan(session, ticket, {t.key: t for t in loaded}, now, policy)
    if held is None:
        for row in cancel:
            row.status = timers.CANCELLED
        for row, due in repend:
            row.status, row.due_at, row.claimed_by, row.lease_until = timers.PENDING, due, "", None
    else:
        # Read as plain rows with the check (dispatch/prefetch.py): written with Core, one statement each.
        if cancel:
            await session.execute(CANCEL_STEPS, {"ids": [row.id for row in cancel]})
        if repend:
            await session.execute(REPEND_STEP, [{"timer_id": row.id, "due": due} for row, due in repend])
    await timers.insert_new(session, new)


async def _plan(session, ticket: Ticket, rows: dict, now: datetime, policy: Policy) -> tuple[list, list, list]:
    """(rows to cancel, (row, due) to schedule again, new timer rows) that bring the chain in step."""
    cancel, repend, new = [], [], []
    if ticket.status in DONE:
        # Every clock has stopped (dispatch/clocks.py): what is still pending is cancelled, without reading
        # the trail; what fired or an acknowledgement holds stays as it is, as below.
        return [r for r in rows.values() if r.status == timers.PENDING and not r.details.get("stopped")], [], []
    clocks = await clocks_of(session, ticket, now, policy)
    for name, clock in clocks.items():
        live = clock.running and not _held(clock)
        for i, step in enumerate(chain_for(policy, ticket.category, name)):
            key = _key(ticket.id, name, i)
            row = rows.get(key)
            if row is not None and (row.status == timers.DONE or row.details.get("stopped")):
                continue   # fired once (a timer never fires twice), or held by an acknowledgement
            if not live:
                if row is not None and row.status == timers.PENDING:
                    cancel.append(row)
                continue
            due = _due(clock, step, (row.details.get("shift", 0) if row is not None else 0))
            if row is None:
                new.append(dict(key=key, kind=STEP, due_at=due, ticket_id=ticket.id, details=_details(name, i, step),
                                status=timers.PENDING, claimed_by=""))
            elif row.status != timers.PENDING or abs((row.due_at - due).total_seconds()) >= 1:
                repend.append((row, due))
    return cancel, repend, new


# The prefetched path's writes, built once.
CANCEL_STEPS = (update(timers.TIMERS).where(timers.TIMERS.c.id.in_(bindparam("ids", expanding=True)),
                                            timers.TIMERS.c.status == timers.PENDING)
                .values(status=timers.CANCELLED))
REPEND_STEP = (update(timers.TIMERS).where(timers.TIMERS.c.id == bindparam("timer_id"))
               .values(status=timers.PENDING, due_at=bindparam("due", type_=timers.TIMERS.c.due_at.type),
                       claimed_by="", lease_until=None))


def first_step_rows(category: str, area: str, visit_at: datetime | None, now: datetime,
                    policy: Policy | None) -> list[dict]:
    """A ticket about to be filed: its chains' first timers, as (clock, i, due_at, details) rows. The ticket's id
    is not known yet: `first_steps` adds it on SQLite, and PostgreSQL's filing statement inserts them itself."""
    policy = policy or Policy()
    view = SimpleNamespace(created_at=now, category=category, area=area, status="submitted", visit_at=visit_at,
                           events=[])
    rows = []
    for name, clock in ticket_clocks(view, now, _sla(policy)).items():
        if not clock.running or _held(clock):
            continue
        for i, step in enumerate(chain_for(policy, category, name)):
            rows.append(dict(clock=name, i=i, due_at=_due(clock, step), details=_details(name, i, step)))
    return rows


async def first_steps(conn, ticket_id: int, rows: list[dict]) -> None:
    """`first_step_rows` of a ticket just filed: one INSERT on the filing's connection (dispatch/filing.py)."""
    if rows:
        await conn.execute(timers.INSERT_NEW[conn.dialect.name], [
            dict(key=_key(ticket_id, r["clock"], r["i"]), kind=STEP, due_at=r["due_at"], ticket_id=ticket_id,
                 details=r["details"], status=timers.PENDING, claimed_by="") for r in rows])


# ---- a step falls due ---------------------------------------------------------------------------------------

@timers.kind(STEP)
async def step_due(session, timer: Timer, now: datetime, policy: Policy) -> None:
    """A chain's step: alert its level if the clock really is there (else put the timer where it belongs)."""
    ticket = await session.get(Ticket, timer.ticket_id) if timer.ticket_id else None
    if ticket is None:
        return
    clock = (await clocks_of(session, ticket, now, policy)).get(timer.details.get("clock", ""))
    if clock is None or not clock.running:
        return
    step = Step(timer.details["at"], timer.details["notify"])
    if _held(clock):
        timer.status, timer.done_at = timers.CANCELLED, None    # a resume schedules it again (`sync`)
        return
    due = _due(clock, step, timer.details.get("shift", 0))
    if due > now + timedelta(seconds=1):
        # The clock was paused since it was scheduled and nobody moved it: it waits for its real time.
        timer.status, timer.due_at, timer.done_at, timer.claimed_by, timer.lease_until = \
            timers.PENDING, due, None, "", None
        return
    await alert(session, ticket, timer, clock, step.notify, now, policy)


@timers.kind(AGAIN)
async def again_due(session, timer: Timer, now: datetime, policy: Policy) -> None:
    """Acknowledged, and still not done after `reescalate_after`: the same level again, and the chain resumes."""
    ticket = await session.get(Ticket, timer.ticket_id) if timer.ticket_id else None
    if ticket is None:
        return
    name = timer.details.get("clock", "")
    clock = (await clocks_of(session, ticket, now, policy)).get(name)
    if clock is None or not clock.running:
        return
    if _held(clock):   # waiting for the resident or parts: look again later
        timer.status, timer.done_at, timer.claimed_by, timer.lease_until = timers.PENDING, None, "", None
        timer.due_at = now + timedelta(seconds=policy.reescalate_after)
        return
    level = int(timer.details.get("step", 0))
    steps = chain_for(policy, ticket.category, name)
    await alert(session, ticket, timer, clock, timer.details.get("notify", "supervisor"), now, policy)
    if level >= len(steps):
        return
    base = step_offset(steps[level].at, clock.limit)
    for row in (await session.execute(select(Timer).where(Timer.ticket_id == ticket.id, Timer.kind == STEP))).scalars():
        i = int(row.details.get("step", -1))
        if row.details.get("clock") != name or i <= level or i >= len(steps) or not row.details.get("stopped"):
            continue
        offset = step_offset(steps[i].at, clock.limit)
        due = now + timedelta(seconds=offset - base)
        shift = (due - clock.operational.due_at).total_seconds() - offset
        row.details = {**row.details, "stopped": False, "shift": shift}
        row.status, row.due_at, row.claimed_by, row.lease_until = timers.PENDING, due, "", None


# ---- who hears, and how ---------------------------------------------------------------------------------------

async def recipients(session, ticket: Ticket, notify: str, now: datetime, policy: Policy) -> list[Person]:
    """The people of a level: the assignee; the trade's supervisors; the managers; the directors. A ticket
    nobody holds goes, at the assignee's and the supervisor's level, to whoever holds the desk now (BR-3)."""
    people: list[Person] = []
    if notify == "assignee" and ticket.assignee_id is not None:
        person = await session.get(Person, ticket.assignee_id)
        people = [person] if person is not None else []
    elif notify in ROLES_OF:
        people = await staff_with_roles(session, ROLES_OF[notify], ticket.trade)
    if ticket.assignee_id is None and notify in ("assignee", "supervisor"):
        shift = await desk_now(session, now, policy.duty if policy.duty is not None else Duty())
        people += [p for p in shift.people if p.id not in {q.id for q in people}]
    return people


async def alert(session, ticket: Ticket, timer: Timer, clock: Clock, notify: str, now: datetime,
                policy: Policy) -> None:
    """Send the level's alert: a reminder to the assignee (50 %), else a card with 已知晓 / 改派 to each
    person 1:1 and to the alerts group; recorded on the timer (who may acknowledge) and in the audit trail."""
    people = await recipients(session, ticket, notify, now, policy)
    minutes = max(0, int(-clock.operational.left.total_seconds() // 60))
    if notify == "assignee":
        for person in people:
            await tell_person(session, ticket, person, now, "escalation/remind.j2", policy.channels,
                              clock=clock.kind, due=clock.operational.due_at.isoformat(), alert=timer.id)
    else:
        payload = {"ticket": ticket.number, "audience": "alert", "alert": timer.id}
        for person in people:
            await _card_to(session, ticket, person, payload, now, policy)
        for channel, chat in policy.alert_chats:
            if channel in policy.channels:
                await outbox.enqueue(session, key=f"{ticket.number}:alert:{timer.id}:{channel}:chat:{chat}",
                                     channel=channel, kind=outbox.CARD, payload=payload, now=now, chat=chat,
                                     ticket_id=ticket.id)
    timer.details = {**timer.details, "alerted": [p.id for p in people], "names": [p.name for p in people],
                     "sent_at": now.isoformat(), "overdue_minutes": minutes}
    audit.record(session, ticket.id, now, "system", "system", "escalated", ticket.status, ticket.status,
                 {"clock": clock.kind, "level": notify, "alert": timer.id, "to": [p.name for p in people]})
    await session.flush()


async def _card_to(session, ticket: Ticket, person: Person, payload: dict, now: datetime, policy: Policy) -> bool:
    order = {p: i for i, p in enumerate(CARD_PLATFORMS)}
    for ident in sorted(person.identities, key=lambda i: order.get(i.platform, len(order))):
        if ident.platform in policy.channels and ident.platform in order:
            await outbox.enqueue(session, key=f"{ticket.number}:alert:{payload['alert']}:{ident.platform}:"
                                 f"{ident.external_id}", channel=ident.platform, kind=outbox.CARD, payload=payload,
                                 now=now, user=ident.external_id, ticket_id=ticket.id)
            return True
    return False


# ---- 已知晓 ----------------------------------------------------------------------------------------------------

async def acknowledge(session, ticket: Ticket, person: Person, alert_id: Any, now: datetime, policy: Policy) -> str:
    """已知晓 by someone the alert went to: the later steps of that clock's chain stop (in this commit) and one
    re-escalation is scheduled: "ok"; "answered" when it was acknowledged before (nothing changes); "not_alerted"
    when this alert did not go to them (or is not this ticket's)."""
    if isinstance(alert_id, bool) or not isinstance(alert_id, int):
        return "not_alerted"
    # The ticket's timers as the check read them (dispatch/prefetch.py), else as the table has them: plain rows,
    # written with Core, then given back as written to the transition's `sync`.
    held = prefetch.timers(session, ticket.id)
    if held is None:
        held = [SimpleNamespace(**row._mapping) for row in (await session.execute(
            select(*(timers.TIMERS.c[f] for f in prefetch.TIMER_FIELDS))
            .where(timers.TIMERS.c.ticket_id == ticket.id))).all()]
    timer = next((t for t in held if t.id == alert_id), None)
    if timer is None or timer.kind not in ALERT_KINDS or person.id not in timer.details.get("alerted", []):
        return "not_alerted"
    if timer.details.get("acked_by"):
        return "answered"   # someone it went to answered already: one acknowledgement per alert
    timer.details = {**timer.details, "acked_by": person.name, "acked_at": now.isoformat()}
    written = [timer]
    name, level = timer.details.get("clock", ""), int(timer.details.get("step", 0))
    for row in held:
        if row.kind == STEP and row.details.get("clock") == name and int(row.details.get("step", -1)) > level \
                and row.status != timers.DONE:
            row.details, row.status = {**row.details, "stopped": True}, timers.CANCELLED
            written.append(row)
    await session.execute(SET_TIMER, [{"timer_id": t.id, "new_status": t.status, "new_details": t.details}
                                      for t in written])
    await timers.put(session, f"esc:{ticket.id}:{name}:again:{timer.id}", AGAIN,
                     now + timedelta(seconds=policy.reescalate_after), ticket.id,
                     {"clock": name, "step": level, "notify": timer.details.get("notify", ""), "after": timer.id},
                     move=False)
    prefetch.give_back(session, ticket.id, held)
    return "ok"


SET_TIMER = (update(timers.TIMERS).where(timers.TIMERS.c.id == bindparam("timer_id"))
             .values(status=bindparam("new_status"),
                     details=bindparam("new_details", type_=timers.TIMERS.c.details.type)))


# ---- the complaint's reply clock (BR-27) ------------------------------------------------------------------------

def _complaint_key(complaint_id: int, i: int) -> str:
    return f"esc:complaint:{complaint_id}:{i}"


async def complaint_opened(session, complaint: Complaint, policy: Policy) -> None:
    """The reply clock's chain (`[sla] complaint_reply`, category "complaint", clock "reply"), no ticket."""
    limit = int(getattr(_sla(policy), "complaint_reply", 86400) or 0)
    if not limit or complaint.id is None:
        return
    due = complaint.created_at + timedelta(seconds=limit)
    for i, step in enumerate(chain_for(policy, "complaint", "reply")):
        await timers.put(session, _complaint_key(complaint.id, i), COMPLAINT_STEP,
                         due + timedelta(seconds=step_offset(step.at, limit)), None,
                         {"complaint": complaint.id, "step": i, "at": step.at, "notify": step.notify}, move=False)


async def complaint_replied(session, complaint: Complaint) -> None:
    """Replied: the chain's pending steps are cancelled in the reply's transaction."""
    await timers.cancel(session, *(_complaint_key(complaint.id, i) for i in range(MAX_STEPS)))


@timers.kind(COMPLAINT_STEP)
async def complaint_due(session, timer: Timer, now: datetime, policy: Policy) -> None:
    complaint = await session.get(Complaint, timer.details.get("complaint"))
    if complaint is None or complaint.status != "open":
        return
    ticket = await session.get(Ticket, complaint.ticket_id) if complaint.ticket_id else None
    notify = timer.details.get("notify", "supervisor")
    roles = ROLES_OF.get(notify, ("supervisor",))
    people = await staff_with_roles(session, roles, ticket.trade if ticket else "")
    vars = {"complaint": complaint.number, "text": complaint.text, "level": notify,
            "hours": int((now - complaint.created_at).total_seconds() // 3600)}
    payload = {"template": "escalation/complaint.j2", "ticket": ticket.number if ticket else None, "vars": vars}
    for person in people:
        order = {p: i for i, p in enumerate(CARD_PLATFORMS)}
        for ident in sorted(person.identities, key=lambda i: order.get(i.platform, len(order))):
            if ident.platform in policy.channels:
                await outbox.enqueue(session, key=f"{complaint.number}:alert:{timer.id}:{ident.platform}:"
                                     f"{ident.external_id}", channel=ident.platform, kind=outbox.TEXT,
                                     payload=payload, now=now, user=ident.external_id,
                                     ticket_id=ticket.id if ticket else None)
                break
    for channel, chat in policy.alert_chats:
        if channel in policy.channels:
            await outbox.enqueue(session, key=f"{complaint.number}:alert:{timer.id}:{channel}:chat:{chat}",
                                 channel=channel, kind=outbox.TEXT, payload=payload, now=now, chat=chat,
                                 ticket_id=ticket.id if ticket else None)
    timer.details = {**timer.details, "alerted": [p.id for p in people], "sent_at": now.isoformat()}
