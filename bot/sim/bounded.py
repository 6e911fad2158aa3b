"""Lists and dicts of the simulator's fakes that keep only their newest entries: a demo runs for weeks,
and whoever reaches it can make it record things (every message, token, upload)."""
from __future__ import annotations

from typing import Any

MESSAGES = 10_000   # what a fake keeps of what was sent or called, per list
ENTRIES = 10_000    # tokens, response codes, uuids, chats, ...
BLOBS = 100         # uploaded images and media (up to megabytes each)


class NewestList(list):
    """A list of at most `limit` items, the oldest dropped first; still a list (tests index and slice it)."""

    def __init__(self, limit: int = MESSAGES, items: Any = ()) -> None:
        super().__init__(items)
        self.limit = limit
        self._trim()

    def append(self, item: Any) -> None:
        super().append(item)
        self._trim()

    def extend(self, items: Any) -> None:
        super().extend(items)
        self._trim()

    def _trim(self) -> None:
        if len(self) > self.limit:
            del self[:len(self) - self.limit]


class NewestDict(dict):
    """A dict of at most `limit` keys: a new key beyond that pushes out the one inserted first."""

    def __init__(self, limit: int = ENTRIES, items: Any = ()) -> None:
        super().__init__()
        self.limit = limit
        for k, v in dict(items).items():
            self[k] = v

    def __setitem__(self, key: Any, value: Any) -> None:
        if key not in self:
            while len(self) >= self.limit:
                del self[next(iter(self))]
        super().__setitem__(key, value)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]
