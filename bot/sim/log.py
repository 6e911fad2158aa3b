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

    def since(self, after: int = 0, user: str | None = None) -> list[dict[str, Any]]:
        return [i for i in self.items if i["id"] > after and (user is None or i["user"] == user)]


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
        item["card"] = {"title": card.title, "buttons": [[b.label, b.payload] for b in card.buttons],
                        "status": card.status}
        return Delivered(message_id=str(item["id"]))

    async def update_card(self, to, copy, card, reply_token: str = ""):
        return await self.send_card(to, card)

