"""Inbound hand-off: de-duplicate a platform event and store it durably before the webhook answers.

The webhook does only verify → decrypt → `offer` → answer; a worker task takes items and processes them.
With Redis the de-duplication key and the stream entry are written by one Lua script (one round trip),
and a consumer group lets another process pick up what a dead one left unacknowledged. Without Redis
(the embedded default: one process) items go to the database's `inbox` table.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.group_commit import GroupCommit
from store.clock import Clock
from store.models import InboxItem

log = logging.getLogger(__name__)
DEDUPE_TTL = 3 * 86400  # platforms retry for minutes (WeCom) to hours (Feishu); keep ids for days


@dataclass(frozen=True)
class Item:
    id: str
    platform: str
    payload: dict[str, Any]
    # Items with the same key (one person on one platform) are handled in arrival order; items with
    # different keys may be handled concurrently. "" = no known order key: handled one at a time.
    key: str = ""


Handler = Callable[[Item], Awaitable[None]]
BATCH = 200          # items taken per round
CONCURRENCY = 64     # conversations handled at once per process
MAX_FAILURES = 5     # an item failing this often in a row goes to the dead letters instead of blocking


def in_order(items: list[Item]) -> list[list[Item]]:
    """Items grouped by order key, each group in arrival order; keyless items form one group."""
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(item.key, []).append(item)
    return list(groups.values())


class Inbox:
    async def offer(self, platform: str, dedupe_id: str, payload: dict[str, Any], key: str = "") -> bool:
        """Store the event once; False when this platform id was seen before (a retry).
        `key` orders it among the same person's events (see `Item.key`)."""
        raise NotImplementedError

    async def take(self, consumer: str, count: int = 50, block_ms: int = 1000) -> list[Item]:
        raise NotImplementedError

    async def ack(self, item: Item) -> None:
        await self.ack_many([item])

    async def ack_many(self, items: list[Item]) -> None:
        raise NotImplementedError

    async def bury(self, item: Item, error: str) -> None:
        """Keep an item that keeps failing where staff can see it, and stop retrying it."""
        raise NotImplementedError

    async def run(self, handler: Handler, consumer: str = "worker", stop: asyncio.Event | None = None,
                  concurrency: int = CONCURRENCY, pause: float = 1.0) -> None:
        """Take, handle, acknowledge, forever; a failing item is left for a retry, not lost.

        A round handles different people's items concurrently and one person's in order; when one of
        a person's items fails, their later items wait for its retry rather than overtake it.
        """
        stop = stop or asyncio.Event()
        failures: dict[str, int] = {}
        while not stop.is_set():
            try:
                items = await self.take(consumer, count=BATCH)
            except Exception:
                log.exception("inbox take failed")
                await asyncio.sleep(1)
                continue
            done, failed = await self._handle_round(handler, items, concurrency)
            for item in done:
                failures.pop(item.id, None)
            for item, error in failed:
                failures[item.id] = failures.get(item.id, 0) + 1
                if failures[item.id] >= MAX_FAILURES:
                    log.error("%s event %s failed %d times; moved to the dead letters", item.platform, item.id,
                              MAX_FAILURES)
                    await self.bury(item, error)
                    failures.pop(item.id)
            try:
                await self.ack_many(done)
            except Exception:  # handled again later: every handler is idempotent on the platform id
                log.exception("inbox acknowledgement failed")
            if failed:
                await asyncio.sleep(pause)  # a failing item is retried, but not in a hot loop

    @staticmethod
    async def _handle_round(handler: Handler, items: list[Item], concurrency: int
                            ) -> tuple[list[Item], list[tuple[Item, str]]]:
        done: list[Item] = []
        failed: list[tuple[Item, str]] = []
        gate = asyncio.Semaphore(concurrency)

        async def person(group: list[Item]) -> None:
            async with gate:
                for item in group:
                    try:
                        await handler(item)
                    except Exception as e:
                        log.exception("processing %s event %s failed; it stays in the inbox", item.platform,
                                      item.id)
                        failed.append((item, repr(e)[:500]))
                        return
                    done.append(item)
        await asyncio.gather(*(person(g) for g in in_order(items)))
        return done, failed

    async def drain(self, handler: Handler, consumer: str = "worker") -> int:
        """Handle everything waiting now, one at a time (tests and shutdown); returns how many were handled."""
        done = 0
        while True:
            items = await self.take(consumer, block_ms=0)
            if not items:
                return done
            for item in items:
                await handler(item)
                await self.ack(item)
                done += 1


# KEYS: the stream, then each event's seen-key; ARGV: the seen-keys' TTL, then platform, data, order key
# per event. Returns 1 (stored) or 0 (seen before) per event.
_OFFER = """
local out = {}
for i = 2, #KEYS do
  local a = 2 + (i - 2) * 3
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('XADD', KEYS[1], '*', 'p', ARGV[a], 'd', ARGV[a + 1], 'k', ARGV[a + 2])
    out[i - 1] = 1
  else
    out[i - 1] = 0
  end
end
return out
"""


class RedisInbox(Inbox):
    GROUP = "workers"
    RECLAIM_IDLE_MS = 60_000  # an item a dead consumer held this long is taken over

    def __init__(self, redis: Redis, prefix: str = "repairbot", reclaim_idle_ms: int | None = None) -> None:
        self.redis = redis
        self.reclaim_idle_ms = self.RECLAIM_IDLE_MS if reclaim_idle_ms is None else reclaim_idle_ms
        self.stream = f"{prefix}:inbox"
        self.dead = f"{prefix}:inbox:dead"
        self.prefix = prefix
        self._offer = redis.register_script(_OFFER)
        # Webhook requests arriving together share one script call: a round trip per request is most
        # of what the callback path costs beyond verify + decrypt.
        self._offers: GroupCommit[tuple[str, str, str, str], bool] = GroupCommit(self._offer_many, max_batch=100)
        self._group_ready = False

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self.redis.xgroup_create(self.stream, self.GROUP, id="0", mkstream=True)
        except ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise
        self._group_ready = True

    async def offer(self, platform: str, dedupe_id: str, payload: dict[str, Any], key: str = "") -> bool:
        seen = f"{self.prefix}:seen:{platform}:{dedupe_id}"
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        [fresh] = await self._offers.add([(seen, platform, data, key)])
        return fresh

    async def _offer_many(self, events: list[tuple[str, str, str, str]]) -> list[bool]:
        seen_keys, args = [], [DEDUPE_TTL]
        for seen, platform, data, key in events:
            seen_keys.append(seen)
            args += [platform, data, key]
        return [bool(r) for r in await self._offer(keys=[self.stream, *seen_keys], args=args)]

    async def take(self, consumer: str, count: int = 50, block_ms: int = 1000) -> list[Item]:
        await self._ensure_group()
        # First what this consumer took and did not acknowledge (a failed item), then what a dead
        # consumer left idle, then new items.
        own = await self.redis.xreadgroup(self.GROUP, consumer, {self.stream: "0"}, count=count)
        entries = [e for _, es in (own or []) for e in es if e[1]]
        if entries:
            return self._items(entries)
        _, claimed, _ = await self.redis.xautoclaim(self.stream, self.GROUP, consumer, self.reclaim_idle_ms,
                                                    start_id="0-0", count=count)
        entries = list(claimed or [])
        if not entries:
            resp = await self.redis.xreadgroup(self.GROUP, consumer, {self.stream: ">"}, count=count,
                                               block=block_ms or None)
            entries = [e for _, es in (resp or []) for e in es]
        return self._items(entries)

    @staticmethod
    def _items(entries) -> list[Item]:
        out = []
        for entry_id, fields in entries:
            if not fields:
                continue
            eid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            platform = fields[b"p"].decode() if b"p" in fields else fields["p"]
            data = fields[b"d"] if b"d" in fields else fields["d"]
            key = fields.get(b"k", fields.get("k", b""))
            key = key.decode() if isinstance(key, bytes) else key
            out.append(Item(eid, platform, json.loads(data), f"{platform}:{key}" if key else ""))
        return out

    async def ack_many(self, items: list[Item]) -> None:
        if not items:
            return
        ids = [i.id for i in items]
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xack(self.stream, self.GROUP, *ids)
            pipe.xdel(self.stream, *ids)
            await pipe.execute()

    async def bury(self, item: Item, error: str) -> None:
        data = json.dumps({"id": item.id, "platform": item.platform, "payload": item.payload, "error": error},
                          ensure_ascii=False)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(self.dead, data)
            pipe.xack(self.stream, self.GROUP, item.id)
            pipe.xdel(self.stream, item.id)
            await pipe.execute()


class DatabaseInbox(Inbox):
    """The embedded default's inbox: one SQLite table, one process."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock
        self._wakeup = asyncio.Event()

    async def offer(self, platform: str, dedupe_id: str, payload: dict[str, Any], key: str = "") -> bool:
        # One process and SQLite's single writer: items are handled one at a time, so no order key is kept.
        try:
            async with self.sessions() as session, session.begin():
                session.add(InboxItem(platform=platform, dedupe_id=dedupe_id, payload=payload,
                                      status="pending", created_at=self.clock.now()))
        except IntegrityError:
            return False
        self._wakeup.set()
        return True

    async def take(self, consumer: str, count: int = 50, block_ms: int = 1000) -> list[Item]:
        items = await self._pending(count)
        if not items and block_ms:
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), block_ms / 1000)
            except asyncio.TimeoutError:
                return []
            items = await self._pending(count)
        return items

    async def _pending(self, count: int) -> list[Item]:
        async with self.sessions() as session:
            rows = (await session.execute(select(InboxItem).where(InboxItem.status == "pending")
                                          .order_by(InboxItem.id).limit(count))).scalars()
            return [Item(str(r.id), r.platform, r.payload) for r in rows]

    async def ack_many(self, items: list[Item]) -> None:
        if not items:
            return
        async with self.sessions() as session, session.begin():
            await session.execute(update(InboxItem).where(InboxItem.id.in_([int(i.id) for i in items]))
                                  .values(status="done"))

    async def bury(self, item: Item, error: str) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(update(InboxItem).where(InboxItem.id == int(item.id)).values(status="dead"))

    async def prune(self, older_than: timedelta = timedelta(days=3)) -> None:
        """Forget handled items once no platform would retry them any more."""
        from sqlalchemy import delete
        async with self.sessions() as session, session.begin():
            await session.execute(delete(InboxItem).where(InboxItem.status == "done",
                                                          InboxItem.created_at < self.clock.now() - older_than))
