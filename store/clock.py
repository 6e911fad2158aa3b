"""Time as a dependency: the system clock in production, a clock tests move by hand."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo


class Clock:
    """Wall-clock time, always tz-aware (UTC inside, the service's zone for people)."""

    def __init__(self, tz: str = "Asia/Shanghai") -> None:
        self.tz = ZoneInfo(tz)

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def local_now(self) -> datetime:
        return self.now().astimezone(self.tz)


class FrozenClock(Clock):
    """A clock that only moves when told to: tests advance it instead of sleeping."""

    def __init__(self, start: datetime, tz: str = "Asia/Shanghai") -> None:
        super().__init__(tz)
        if start.tzinfo is None:
            start = start.replace(tzinfo=self.tz)
        self._now = start.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float = 0, **kw: float) -> datetime:
        self._now += timedelta(seconds=seconds, **kw)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(timezone.utc)
