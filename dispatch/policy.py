"""What the configuration decides about a ticket's life: price and material lists, waits, thresholds."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Price:
    """One line of the price list (`[[prices]]`, BR-13): what a technician can quote by its key."""

    key: str
    name: str
    amount: Decimal       # 元
    trade: str = ""       # "" for every trade


@dataclass(frozen=True)
class Material:
    """One entry of the material list (`[[materials]]`, BR-17)."""

    key: str
    name: str
    unit: str = ""       # "" reads as the default unit of templates (labels)


@dataclass(frozen=True)
class Policy:
    prices: tuple[Price, ...] = ()
    materials: tuple[Material, ...] = ()
    signoff_wait: int = 86400           # BR-21: no answer to 已修好/没修好 in 24 h counts as accepted
    survey_reminder: int = 86400        # BR-26: one reminder after 24 h
    survey_lapse: int = 172800          # after this the survey is closed unanswered
    warranty_days: int = 90             # BR-24: at least 3 months
    leadership_waiver_from: Decimal = Decimal("500")   # BR-15: below, the property director approves
    followup_share: float = 0.6         # BR-25: at least 60 % of completed tickets (all unit ones)
    channels: frozenset[str] = field(default_factory=frozenset)   # where messages can be delivered
    tz: str = "Asia/Shanghai"           # a time given without an offset is local
    # Escalation (dispatch/escalation.py): `[sla]` (None: the rules' figures), `[[escalation]]` chains (empty:
    # the default chain), the alerts group chats as (channel, chat id), `[duty]` (None: the default desk hours).
    sla: Any = None
    chains: tuple[Any, ...] = ()
    reescalate_after: int = 3600
    alert_chats: tuple[tuple[str, str], ...] = ()
    duty: Any = None

    def price(self, key: str) -> Price | None:
        return next((p for p in self.prices if p.key == key), None)

    def material(self, key: str) -> Material | None:
        return next((m for m in self.materials if m.key == key), None)

    def waiver_approver(self, amount: Decimal) -> str:
        """BR-15: the role that approves waiving `amount` 元."""
        return "leadership" if amount >= self.leadership_waiver_from else "director"
