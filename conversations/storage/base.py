"""The storage contract: a key per (channel, chat, user), a JSON value with a TTL, a lock, idle deadlines."""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
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


class LockLost(RuntimeError):
    """The lock expired while held (the step outlived the lock timeout); nothing of the step was saved."""


class Held:
    """One conversation under its lock: the value read as the lock was taken, and the changes to make.

    The changes are recorded here and written when the hold ends without an error, together with the
    release of the lock; a step that fails writes nothing.
    """

    def __init__(self, value: dict[str, Any] | None) -> None:
        self.value = value
        self.write: tuple[dict[str, Any], int] | None = None   # (value, ttl) to store
        self.drop = False                                      # delete the value
        self.due: datetime | None = None                       # a new idle deadline
        self.clear_due = False                                 # no idle deadline any more

    def put(self, value: dict[str, Any], ttl: int) -> None:
        self.write, self.drop = (value, ttl), False

    def delete(self) -> None:
        self.write, self.drop = None, True

    def schedule(self, due: datetime) -> None:
        self.due, self.clear_due = due, False

    def unschedule(self) -> None:
        self.due, self.clear_due = None, True


class StateStorage(ABC):
    """State and data of a conversation as one JSON value.

    `hold(key)` is the way a step uses it: lock, read, and at the end write and unlock, in as few
    round trips as the backend allows. `lock`, `get`, `set`, ... remain for callers that need them
    piecemeal (callers hold `lock(key)` around get/set).
    """

    @abstractmethod
    def hold(self, key: StorageKey) -> AbstractAsyncContextManager[Held]:
        """Exclusive access to one conversation, taken before its state is read; the `Held` changes are
        written as the lock is released."""

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncIterator[None]:
        """Exclusive access to one conversation, taken before its state is read."""
        async with self.hold(key):
            yield

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
