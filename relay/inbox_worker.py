"""The worker loop over the inbox: many people's events at once, each person's in order, failures retried in place.

Events are taken as they come (no rounds: a slow conversation never holds up the next batch) and queued in
one lane per order key (a person on a platform). A lane handles its events one by one, so a resident's
second message never overtakes the first; lanes run concurrently up to `concurrency`. A failing event is
retried in its lane with back-off and jitter (relay.retry), holding the person's later events back;
once it has kept failing for `retry_for` seconds it is set aside as a dead letter so the rest of the inbox
goes on. Pauses are taken on the injected clock, so tests move time instead of waiting. Acknowledgements of concurrent lanes share one
round trip.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque

from relay.group_commit import GroupCommit
from relay.inbox import Handler, Inbox, Item
from relay.retry import INBOX_RETRY_FOR, inbox_pause
from store.clock import Clock

log = logging.getLogger(__name__)
CONCURRENCY = 128    # events being handled at once per process
IN_HAND = 512        # events taken and not yet acknowledged, at most


class InboxWorker:
    def __init__(self, inbox: Inbox, handler: Handler, consumer: str, *, concurrency: int = CONCURRENCY,
                 in_hand: int = IN_HAND, pause: float = 1.0, block_ms: int = 1000, retry_for: float = INBOX_RETRY_FOR,
                 clock: Clock | None = None) -> None:
        self.inbox, self.handler, self.consumer = inbox, handler, consumer
        self.in_hand, self.pause, self.block_ms = in_hand, pause, block_ms
        self.retry_for = retry_for
        self.clock = clock or Clock()
        self._stop = asyncio.Event()
        self._gate = asyncio.Semaphore(concurrency)
        self._lanes: dict[str, deque[Item]] = {}
        self._held: set[str] = set()          # ids in hand, so an event reclaimed while in hand is not doubled
        self._room = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._acks: GroupCommit[Item, None] = GroupCommit(self._ack)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Take and hand out events until `stop` is set, then finish what is in hand."""
        stop = self._stop = stop or asyncio.Event()
        try:
            while not stop.is_set():
                if len(self._held) >= self.in_hand:
                    self._room.clear()
                    await self._room.wait()
                    continue
                try:
                    items = await self.inbox.take_new(self.consumer, self.in_hand - len(self._held), self.block_ms)
                except Exception:
                    log.exception("inbox take failed")
                    await asyncio.sleep(self.pause)
                    continue
                for item in items:
                    if item.id not in self._held:
                        self._hand(item)
            await self.idle()
        finally:  # cancelled: the lanes go too; their events stay unacknowledged and come back
            for task in self._tasks:
                task.cancel()

    async def idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._acks.idle()

    def _hand(self, item: Item) -> None:
        self._held.add(item.id)
        lane = self._lanes.get(item.key)
        if lane is not None:
            lane.append(item)
            return
        self._lanes[item.key] = deque([item])
        task = asyncio.create_task(self._lane(item.key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _lane(self, key: str) -> None:
        lane = self._lanes[key]
        try:
            while lane:
                item = lane[0]
                try:
                    await self._handle(item)
                finally:
                    lane.popleft()
                    self._held.discard(item.id)
                    self._room.set()
        finally:
            del self._lanes[key]

    async def _handle(self, item: Item) -> None:
        failing_since = None
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._gate:
                    await self.handler(item)
                break
            except Exception as e:
                now = self.clock.now()
                failing_since = failing_since or now
                failing_for = (now - failing_since).total_seconds()
                log.exception("processing %s event %s failed (attempt %d, failing for %.0f s of %.0f)",
                              item.platform, item.id, attempt, failing_for, self.retry_for)
                if failing_for >= self.retry_for:
                    log.error("%s event %s set aside as a dead letter", item.platform, item.id)
                    try:
                        await self.inbox.bury(item, repr(e)[:500])
                    except Exception:  # still unacknowledged: taken over again later, not lost
                        log.exception("setting %s aside failed", item.id)
                    return
                if not await self._pause(inbox_pause(attempt, self.pause)):
                    return  # stopping: left unacknowledged, handled again after the restart
        try:
            await self._acks.add([item])
        except Exception:  # unacknowledged: handled again later, which every handler makes harmless
            log.exception("acknowledging %s failed", item.id)

    async def _pause(self, seconds: float) -> bool:
        """Wait on the clock; False when the worker is told to stop first."""
        if self._stop.is_set():
            return False
        nap = asyncio.ensure_future(self.clock.sleep(seconds))
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({nap, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            nap.cancel()
            stop.cancel()
        return not self._stop.is_set()

    async def _ack(self, items: list[Item]) -> list[None]:
        await self.inbox.ack_many(items)
        return [None] * len(items)
