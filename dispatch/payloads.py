"""Button payloads: small, typed and versioned; one codec shared by every platform."""
from __future__ import annotations

import re
from dataclasses import dataclass

from dispatch.lifecycle import STAFF_ACTIONS

VERSION = 1
# What a resident answers where the channel shows buttons (dispatch/resident.py); the timers' own actions
# (signoff_auto, survey_done) are never pressed.
RESIDENT_ANSWERS = ("quote_agree", "quote_decline", "visit_agree", "visit_decline", "signoff_fixed",
                    "signoff_not_fixed")
ACTIONS = STAFF_ACTIONS + RESIDENT_ANSWERS
# An overdue alert's buttons add one argument: `|a<alert id>` (已知晓: which alert) or `|p<person id>` (改派: to whom).
_FORMAT = re.compile(r"^rb(?P<v>\d+)\|(?P<action>[a-z_]+)\|(?P<ticket>BX\d{8}-\d{4,})(?:\|(?P<arg>[ap])(?P<n>\d{1,18}))?$")


@dataclass(frozen=True)
class CardAction:
    action: str      # a staff action (dispatch.lifecycle.STAFF_ACTIONS) or a resident's answer
    ticket: str      # ticket number
    alert: int = 0   # the overdue alert a 已知晓 answers (dispatch/escalation.py)
    to: int = 0      # the person a 改派 hands the job to

    def encode(self) -> str:
        arg = f"|a{self.alert}" if self.alert else f"|p{self.to}" if self.to else ""
        return f"rb{VERSION}|{self.action}|{self.ticket}{arg}"

    @property
    def body(self) -> dict | None:
        """What the button says beyond the action, as the action's body; None when nothing."""
        if self.alert:
            return {"alert": self.alert}
        if self.to:
            return {"to_id": self.to}
        return None

    @property
    def by_resident(self) -> bool:
        return self.action in RESIDENT_ANSWERS


def decode(raw: str | None) -> CardAction | None:
    """The action a button carries, or None for anything we did not issue (or an older format)."""
    m = _FORMAT.match((raw or "").strip())
    if not m or int(m.group("v")) != VERSION or m.group("action") not in ACTIONS:
        return None
    n = int(m.group("n") or 0)
    return CardAction(m.group("action"), m.group("ticket"), alert=n if m.group("arg") == "a" else 0,
                      to=n if m.group("arg") == "p" else 0)
