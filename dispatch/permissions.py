"""Who may do what to a ticket: the contract's Lifecycle "who" column as one role × action table."""
from __future__ import annotations

# Staff roles of `[[staff]]` (contract.md). Residents and former staff are not in the table: they act on
# no ticket (their presses are refused as `unknown_person` before the table is read).
ROLES = ("technician", "supervisor", "manager", "director", "leadership", "desk", "control", "housekeeper",
         "finance")

# Every action of the contract's Lifecycle table, implemented or not: later actions only look it up.
ACTIONS = ("accept", "transfer", "decline", "arrive", "reschedule", "quote", "hold", "resume", "complete",
           "waive_approve", "waive_reject", "ack", "reassign", "verify", "cancel", "waive")

# How far a role's permission reaches.
TRADE = "trade"          # tickets of one of their trades (a supervisor or manager with no trades: every trade)
ASSIGNEE = "assignee"    # only the ticket they hold
ALERTED = "alerted"      # only an alert sent to them (the action checks the alert, the table the role)
ANY = "any"              # every ticket

# The duty desk of BR-3 is three roles by time of day: 前台 (desk), 中控 (control), 管家 (housekeeper).
# The contract's "desk" means whichever of them is on duty, so all three hold the desk's rights.
_DUTY_DESK = {"desk": ANY, "control": ANY, "housekeeper": ANY}
_ALL_STAFF_ALERTED = {role: ALERTED for role in ROLES if role != "finance"}

# action → {role: scope}; a role missing from an action's row may not do it at all.
TABLE: dict[str, dict[str, str]] = {
    # A supervisor takes a job for someone through `reassign`, not by pressing 接单 on a technician's card.
    "accept": {"technician": TRADE},
    # Before anyone accepts, a technician of the trade may ask for it to go elsewhere; once accepted, only
    # the assignee may (dispatch.actions refuses anyone else as `taken`).
    "transfer": {"technician": TRADE, "supervisor": TRADE},
    "decline": {"technician": TRADE},
    "arrive": {"technician": ASSIGNEE},
    "reschedule": {"technician": ASSIGNEE},
    "quote": {"technician": ASSIGNEE},
    "hold": {"technician": ASSIGNEE},
    "resume": {"technician": ASSIGNEE, "supervisor": TRADE},
    "complete": {"technician": ASSIGNEE},
    # BR-15: the amount decides which of the two approves (director < 500 元, leadership ≥ 500 元).
    # Asking for a 签免 (BR-15): the technician on the job, the trade's supervisor, the duty desk (BR-13: the
    # housekeeper negotiates a disputed quote).
    "waive": {"technician": ASSIGNEE, "supervisor": TRADE, **_DUTY_DESK},
    "waive_approve": {"director": ANY, "leadership": ANY},
    "waive_reject": {"director": ANY, "leadership": ANY},
    "ack": _ALL_STAFF_ALERTED,
    "reassign": {"supervisor": TRADE, "manager": ANY, "director": ANY, "leadership": ANY},
    "verify": dict(_DUTY_DESK),
    "cancel": {**_DUTY_DESK, "supervisor": TRADE},
}


def is_staff(role: str) -> bool:
    """A role of `[[staff]]` (not a resident, not someone the configuration no longer names)."""
    return role in ROLES


def scope(role: str, action: str) -> str | None:
    """How far `role` may do `action` (TRADE, ASSIGNEE, ALERTED, ANY), or None when it may not at all."""
    return TABLE.get(action, {}).get(role)


def refusal(role: str, action: str, *, trades: list[str] | None, ticket_trade: str,
            is_assignee: bool) -> str | None:
    """Why this person may not do `action` to this ticket (an ActionResult outcome), or None when they may.

    not_allowed: their role never does it, or the ticket is not theirs to do it to;
    not_your_trade: the ticket belongs to a trade that is not theirs.
    """
    reach = scope(role, action)
    if reach is None:
        return "not_allowed"
    if reach == TRADE:
        # Technicians always work for named trades; a supervisor with none oversees every trade.
        if (trades or role == "technician") and ticket_trade not in (trades or []):
            return "not_your_trade"
    elif reach == ASSIGNEE and not is_assignee:
        return "not_allowed"
    return None


def markdown_table() -> str:
    """The table as the README shows it (role × action)."""
    marks = {TRADE: "own trade", ASSIGNEE: "assignee", ALERTED: "if alerted", ANY: "yes"}
    lines = ["| action | " + " | ".join(ROLES) + " |", "| --- |" + " --- |" * len(ROLES)]
    for action in ACTIONS:
        lines.append(f"| `{action}` | " + " | ".join(marks.get(scope(r, action) or "", "—") for r in ROLES) + " |")
    return "\n".join(lines)
