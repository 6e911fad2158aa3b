"""Everything the service sent through the simulator, in order, for the page and for tests."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from conversations.messages import Reply
from store.clock import Clock

CHANNEL = "sim"


@dataclass
class SentLog:
    clock: Clock
    limit: int = 10000

    def __post_init__(self) -> None:
        self.items: deque[dict[str, Any]] = deque(maxlen=self.limit)
        self._seq = 0

    def record(self, chat: str, user: str, replies: list[Reply], *, proactive: bool = False) -> list[dict]:
        out = []
        for r in replies:
            self._seq += 1
            item = {"id": self._seq, "chat": chat, "user": user, "at": self.clock.now().isoformat(),
                    "proactive": proactive, **r.to_dict()}
            self.items.append(item)
            out.append(item)
        return out

    def find(self, item_id: str) -> dict[str, Any] | None:
        """The item a message id names (its `id`, as `Delivered.message_id`), if still kept."""
        for item in reversed(self.items):
            if str(item["id"]) == item_id:
                return item
        return None

    def since(self, after: int = 0, user: str | None = None) -> list[dict[str, Any]]:
        return [i for i in self.items if i["id"] > after and (user is None or i["user"] == user)]


def _card_of(card) -> dict[str, Any]:
    """What the page needs to draw a card's buttons and status."""
    return {"title": card.title, "buttons": [[b.label, b.payload] for b in card.buttons], "status": card.status}


class SimMessenger:
    """The simulator's neutral channel: proactive messages and cards land in the sent log."""

    channel = CHANNEL

    def __init__(self, log: SentLog) -> None:
        self.log = log

    async def send_text(self, to, text: str, options: tuple[str, ...] = (), *, idempotency_key: str = ""):
        from relay.messengers import Delivered
        [item] = self.log.record(to.chat or to.user, to.user, [Reply(text, tuple(options))], proactive=True)
        return Delivered(message_id=str(item["id"]))

    async def send_card(self, to, card, *, idempotency_key: str = ""):
        from relay.messengers import Delivered
        [item] = self.log.record(to.chat or to.user, to.user, [Reply(card.as_text())], proactive=True)
        item["card"] = _card_of(card)
        return Delivered(message_id=str(item["id"]))

    async def update_card(self, to, copy, card, reply_token: str = ""):
        """The new state as a new bubble, unless the copy already shows exactly this (a step of someone
        else's job that leaves their copy as it was)."""
        shown = self.log.find(copy.message_id)
        if shown is not None and shown.get("text") == card.as_text() and shown.get("card") == _card_of(card):
            return copy
        return await self.send_card(to, card)

