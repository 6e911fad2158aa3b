"""Time as a dependency: the system clock in production, a clock tests move by hand."""
from __future__ import annotations

import asyncio
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

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time (back-off pauses, lease renewals)."""
        await asyncio.sleep(max(0.0, seconds))


class ShiftedClock(Clock):
    """The system clock that can be moved on by hand: the simulator's own (`POST /sim/api/clock`), so a
    demo can see what happens a day later. Never used beside a real platform."""

    def __init__(self, tz: str = "Asia/Shanghai") -> None:
        super().__init__(tz)
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def advance(self, seconds: float = 0, **kw: float) -> datetime:
        self.offset += timedelta(seconds=seconds, **kw)
        return self.now()


class FrozenClock(Clock):
    """A clock that only moves when told to: tests advance it instead of sleeping."""

    def __init__(self, start: datetime, tz: str = "Asia/Shanghai") -> None:
        super().__init__(tz)
        if start.tzinfo is None:
            start = start.replace(tzinfo=self.tz)
        self._now = start.astimezone(timezone.utc)
        self._sleepers: list[tuple[datetime, asyncio.Future]] = []

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float = 0, **kw: float) -> datetime:
        self._now += timedelta(seconds=seconds, **kw)
        self._wake()
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(timezone.utc)
        self._wake()

    async def sleep(self, seconds: float) -> None:
        """Returns once the clock has been moved `seconds` on (at once for 0 or less)."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + timedelta(seconds=seconds), fut))
        await fut

    def sleepers(self) -> int:
        """How many `sleep` calls are waiting for the clock (tests wait for a pause to begin)."""
        self._sleepers = [(at, f) for at, f in self._sleepers if not f.done()]
        return len(self._sleepers)

    def _wake(self) -> None:
        waiting = []
        for at, fut in self._sleepers:
            if fut.done() or fut.get_loop().is_closed():
                continue
            if at <= self._now:
                fut.get_loop().call_soon_threadsafe(_resolve, fut)
            else:
                waiting.append((at, fut))
        self._sleepers = waiting


def _resolve(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)
