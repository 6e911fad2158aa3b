"""The storage contract: a key per (channel, chat, user), a JSON value with a TTL, a lock, idle deadlines."""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class StorageKey:
    """Two residents in one group chat have two keys: the user is part of it."""

    channel: str
    chat: str
    user: str

    def encode(self) -> str:
        # JSON, because chat and user ids may contain any separator we could pick.
        return json.dumps([self.channel, self.chat, self.user], ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str | bytes) -> StorageKey:
        channel, chat, user = json.loads(raw)
        return cls(channel, chat, user)


class StateStorage(ABC):
    """State and data of a conversation as one JSON value; callers hold `lock(key)` around get/set."""

    @abstractmethod
    def lock(self, key: StorageKey) -> AbstractAsyncContextManager[None]:
        """Exclusive access to one conversation, taken before its state is read."""

    @abstractmethod
    async def get(self, key: StorageKey) -> dict[str, Any] | None: ...

    @abstractmethod
    async def set(self, key: StorageKey, value: dict[str, Any], ttl: int) -> None: ...

    @abstractmethod
    async def delete(self, key: StorageKey) -> None: ...

    @abstractmethod
    async def schedule(self, key: StorageKey, due: datetime) -> None:
        """Remember when this conversation goes idle, so a sweeper can close it with a message."""

    @abstractmethod
    async def unschedule(self, key: StorageKey) -> None: ...

    @abstractmethod
    async def due(self, now: datetime, limit: int = 100) -> list[StorageKey]:
        """Conversations whose idle deadline is at or before `now`."""

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None
