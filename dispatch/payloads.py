"""Button payloads: small, typed and versioned; one codec shared by every platform."""
from __future__ import annotations

import re
from dataclasses import dataclass

VERSION = 1
ACTIONS = ("accept", "transfer", "decline")
_FORMAT = re.compile(r"^rb(?P<v>\d+)\|(?P<action>[a-z_]+)\|(?P<ticket>BX\d{8}-\d{4,})$")


@dataclass(frozen=True)
class CardAction:
    action: str      # accept | transfer | decline
    ticket: str      # ticket number

    def encode(self) -> str:
        return f"rb{VERSION}|{self.action}|{self.ticket}"


def decode(raw: str | None) -> CardAction | None:
    """The action a button carries, or None for anything we did not issue (or an older format)."""
    m = _FORMAT.match((raw or "").strip())
    if not m or int(m.group("v")) != VERSION or m.group("action") not in ACTIONS:
        return None
    return CardAction(m.group("action"), m.group("ticket"))
