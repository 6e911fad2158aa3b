"""Everything the service sent through the simulator, in order, for the page and for tests."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from conversations.messages import Reply
from conversations.storage import StorageKey
from store.clock import Clock


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

    async def send(self, key: StorageKey, replies: list[Reply]) -> None:
        """The simulator's messenger: a proactive message (an expiry notice, later a dispatch card)."""
        self.record(key.chat, key.user, replies, proactive=True)

    def since(self, after: int = 0, user: str | None = None) -> list[dict[str, Any]]:
        return [i for i in self.items if i["id"] > after and (user is None or i["user"] == user)]
