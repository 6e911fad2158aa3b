"""A ticket's life after filing as one table: which action moves it from which statuses to which (contract.md)."""
from __future__ import annotations

from dispatch.statuses import (
    ACCEPTED, CANCELLED, CLOSED, COMPLETED, DISPATCHED, ON_HOLD, ON_SITE, OPEN, QUOTE_ACCEPTED, QUOTED, REJECTED,
    REWORK, SUBMITTED, VERIFIED,
)

SAME = "="            # the status does not change (a note, a request, a proposal)
BACK = "<"            # back to the status the ticket had before it was put on hold (`held_from`)

WORKING = frozenset({ACCEPTED, ON_SITE, QUOTED, QUOTE_ACCEPTED, REWORK, ON_HOLD})
PAYABLE = frozenset({ON_SITE, QUOTED, QUOTE_ACCEPTED, REJECTED})

# action → (the statuses it may start from, the status it leaves). Staff actions first (contract.md
# "Lifecycle"), then what a resident's answer or a timer does. Nothing changes a ticket's status except
# through this table (`dispatch.actions.transition`); README's diagram is printed from it (`mermaid`).
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "accept": (frozenset({SUBMITTED, DISPATCHED}), ACCEPTED),
    # Before 接单: a technician asks the supervisors to send it elsewhere (nothing changes). After: the
    # assignee hands it on: to a named person (who holds it, `accepted`), or back to the trade.
    "transfer": (frozenset({SUBMITTED, DISPATCHED}) | WORKING, DISPATCHED),
    "transfer_to": (WORKING, ACCEPTED),
    "decline": (frozenset({SUBMITTED, DISPATCHED, ACCEPTED}), DISPATCHED),
    "arrive": (frozenset({ACCEPTED, REWORK}), ON_SITE),                      # BR-10, BR-12
    "reschedule": (frozenset({ACCEPTED}), SAME),                              # BR-11/12: the resident confirms
    "quote": (frozenset({ON_SITE, REJECTED}), QUOTED),                        # BR-13 (again after a dispute)
    "hold": (frozenset({ON_SITE, QUOTE_ACCEPTED}), ON_HOLD),                  # BR-18
    "resume": (frozenset({ON_HOLD}), BACK),
    # A paid ticket (`quoted`, `rejected`) cannot be completed: BR-13, work starts only once agreed.
    "complete": (frozenset({ON_SITE, QUOTE_ACCEPTED, REWORK}), COMPLETED),    # BR-17
    "waive": (PAYABLE, SAME),                                                 # BR-15: a 签免 request
    "waive_approve": (PAYABLE, SAME),        # a quoted or disputed ticket becomes quote_accepted (free)
    "waive_reject": (PAYABLE, SAME),
    "waiver_settles": (frozenset({QUOTED, REJECTED}), QUOTE_ACCEPTED),       # approved: nothing left to agree
    "ack": (OPEN, SAME),
    "reassign": (OPEN, ACCEPTED),
    "verify": (frozenset({COMPLETED}), VERIFIED),                             # BR-21 public area
    "verify_failed": (frozenset({COMPLETED}), REWORK),                        # BR-21: back for rework
    "cancel": (frozenset({SUBMITTED, DISPATCHED, ACCEPTED, REJECTED}), CANCELLED),
    # The resident's answers (dispatch/resident.py) and the timers (dispatch/timers.py).
    "quote_agree": (frozenset({QUOTED}), QUOTE_ACCEPTED),                     # BR-13
    "quote_decline": (frozenset({QUOTED}), REJECTED),                         # BR-13: to the housekeeper
    "visit_agree": (frozenset({ACCEPTED}), SAME),
    "visit_decline": (frozenset({ACCEPTED}), SAME),
    "signoff_fixed": (frozenset({COMPLETED}), VERIFIED),                      # BR-21 in a unit
    "signoff_not_fixed": (frozenset({COMPLETED}), REWORK),
    "signoff_auto": (frozenset({COMPLETED}), VERIFIED),                       # no answer in 24 h
    "survey_done": (frozenset({VERIFIED}), CLOSED),                           # BR-26: answered or lapsed
}

# Staff actions people press or call (contract.md "Lifecycle"; `waive` asks for a 签免).
STAFF_ACTIONS = ("accept", "transfer", "decline", "arrive", "reschedule", "quote", "hold", "resume", "complete",
                 "waive", "waive_approve", "waive_reject", "ack", "reassign", "verify", "cancel")
RESIDENT_ACTIONS = ("quote_agree", "quote_decline", "visit_agree", "visit_decline", "signoff_fixed",
                    "signoff_not_fixed", "signoff_auto", "survey_done")


def allowed(action: str, status: str) -> bool:
    """May `action` start from `status`?"""
    entry = TRANSITIONS.get(action)
    return entry is not None and status in entry[0]


def target(action: str, status: str, held_from: str = "") -> str:
    """The status `action` leaves a ticket in that has `status` now."""
    to = TRANSITIONS[action][1]
    if to == SAME:
        return status
    if to == BACK:
        return held_from or ACCEPTED
    return to


def edges() -> list[tuple[str, str, str]]:
    """(from, to, action) for every status change the table allows, in a stable order."""
    from dispatch.statuses import ALL

    out = []
    for action, (sources, to) in TRANSITIONS.items():
        for source in sorted(sources, key=ALL.index):
            if to == SAME:
                continue
            dest = "held_from" if to == BACK else to
            out.append((source, dest, action))
    return out


def mermaid() -> str:
    """The status diagram README.md shows (tests/test_lifecycle_diagram.py keeps them equal)."""
    lines = ["stateDiagram-v2", "    [*] --> submitted", "    submitted --> dispatched: filed"]
    grouped: dict[tuple[str, str], list[str]] = {}
    for source, dest, action in edges():
        if dest == "held_from":
            continue
        grouped.setdefault((source, dest), []).append(action)
    for (source, dest), actions in grouped.items():
        lines.append(f"    {source} --> {dest}: {', '.join(actions)}")
    for status in sorted({s for s in TRANSITIONS['resume'][0]}):
        for back in sorted(TRANSITIONS["hold"][0]):
            lines.append(f"    {status} --> {back}: resume")
    lines += [f"    {s} --> [*]" for s in (CLOSED, CANCELLED)]
    return "\n".join(lines)
