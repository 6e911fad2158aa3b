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
_FORMAT = re.compile(r"^rb(?P<v>\d+)\|(?P<action>[a-z_]+)\|(?P<ticket>BX\d{8}-\d{4,})$")


@dataclass(frozen=True)
class CardAction:
    action: str      # a staff action (dispatch.lifecycle.STAFF_ACTIONS) or a resident's answer
    ticket: str      # ticket number

    def encode(self) -> str:
        return f"rb{VERSION}|{self.action}|{self.ticket}"

    @property
    def by_resident(self) -> bool:
        return self.action in RESIDENT_ANSWERS


def decode(raw: str | None) -> CardAction | None:
    """The action a button carries, or None for anything we did not issue (or an older format)."""
    m = _FORMAT.match((raw or "").strip())
    if not m or int(m.group("v")) != VERSION or m.group("action") not in ACTIONS:
        return None
    return CardAction(m.group("action"), m.group("ticket"))
