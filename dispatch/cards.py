"""The neutral card (after errbot's Card): each platform renders it natively, with a text fallback."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Button:
    label: str
    payload: str                 # dispatch.payloads codec string
    style: str = "default"       # primary | default | danger


@dataclass(frozen=True)
class Card:
    title: str
    fields: tuple[tuple[str, str], ...] = ()      # (label, value) rows, in order
    body: str = ""                                # free text under the fields
    buttons: tuple[Button, ...] = ()              # empty once the card is settled
    status: str = ""                              # shown instead of buttons, e.g. "已被 张师傅 接单"
    emergency: bool = False                       # BR-5: stamped 紧急, rendered prominently
    link: str = ""                                # details page / photo link
    key: str = ""                                 # stable id of what the card is about (a ticket number)
    tags: tuple[str, ...] = field(default_factory=tuple)

    def as_text(self) -> str:
        """The fallback for a platform or chat that cannot show cards."""
        lines = [self.title, *(f"{k}：{v}" for k, v in self.fields)]
        if self.body:
            lines.append(self.body)
        if self.status:
            lines.append(self.status)
        if self.link:
            lines.append(self.link)
        return "\n".join(lines)
