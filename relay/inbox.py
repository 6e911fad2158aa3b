"""Inbound hand-off: de-duplicate a platform event and store it durably before the webhook answers.

The webhook does only verify → decrypt → `offer` → answer; the worker loop (relay.inbox_worker) takes
items and processes them. With Redis the de-duplication keys and stream entries of the requests arriving
together are written by one Lua script call, and a consumer group lets another process pick up what a
dead one left unacknowledged. Without Redis (the embedded default: one process) items go to the
database's `inbox` table. An item that keeps failing is set aside (`bury`) where an operator finds it.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from relay.group_commit import GroupCommit
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


class Inbox:
    async def offer(self, platform: str, dedupe_id: str, payload: dict[str, Any], key: str = "") -> bool:
        """Store the event once; False when this platform id was seen before (a retry).
        `key` orders it among the same person's events (see `Item.key`)."""
        raise NotImplementedError

    async def take(self, consumer: str, count: int = 50, block_ms: int = 1000) -> list[Item]:
        """What `consumer` holds unacknowledged first (a failed item), then anything waiting."""
        raise NotImplementedError

    async def take_new(self, consumer: str, count: int, block_ms: int) -> list[Item]:
        """Events this process has not taken yet (the worker loop retries failures itself); also what a
        dead process left unacknowledged too long."""
        raise NotImplementedError

    async def ack(self, item: Item) -> None:
        await self.ack_many([item])

    async def ack_many(self, items: list[Item]) -> None:
        raise NotImplementedError

    async def bury(self, item: Item, error: str) -> None:
        """Keep an item that keeps failing where an operator can find it, and stop retrying it."""
        raise NotImplementedError

    async def close(self) -> None:
        """Give back what the inbox holds beyond its backend's shared connections."""

    async def set_aside(self, limit: int = 200) -> list[dict[str, Any]]:
        """The items `bury` kept, newest first: id, platform, user (who sent it), error, at."""
        raise NotImplementedError

    async def redrive(self, ids: list[str] | None = None) -> list[str]:
        """Put set-aside items (those named, else all) back into the inbox as new events; returns the ids
        that were set aside and are now waiting again."""
        raise NotImplementedError

    async def prune(self, *, dead_before: datetime, dead_max: int, done_before: datetime) -> int:
        """Forget set-aside items kept since before `dead_before` (they hold decrypted messages and phones)
        or beyond the newest `dead_max`, and handled items older than `done_before`; returns how many."""
        raise NotImplementedError

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
    CLAIM_EVERY = 5.0         # seconds between looks for such items in the worker loop

    def __init__(self, redis: Redis, prefix: str = "repairbot", reclaim_idle_ms: int | None = None,
                 clock: Clock | None = None) -> None:
        self.redis = redis
        self.clock = clock or Clock()
        self.reclaim_idle_ms = self.RECLAIM_IDLE_MS if reclaim_idle_ms is None else reclaim_idle_ms
        self.stream = f"{prefix}:inbox"
        self.dead = f"{prefix}:inbox:dead"
        self.prefix = prefix
        # Webhook requests arriving together share one script call: a round trip per request is most
        # of what the callback path costs beyond verify + decrypt. Calls never overlap (one flush at a
        # time), so they keep one connection of the pool instead of checking one out per call.
        self._offer_client = Redis(connection_pool=redis.connection_pool, single_connection_client=True)
        self._offer = self._offer_client.register_script(_OFFER)
        self._offers: GroupCommit[tuple[str, str, str, str], bool] = GroupCommit(self._offer_many, max_batch=100)
        self._group_ready = False
        self._recovered: set[str] = set()
        self._claimed_at = float("-inf")

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
        return (await self._own(consumer, count) or await self._claim(consumer, count)
                or await self._new(consumer, count, block_ms))

    async def take_new(self, consumer: str, count: int, block_ms: int) -> list[Item]:
        await self._ensure_group()
        if consumer not in self._recovered:  # what this consumer name held before a restart
            self._recovered.add(consumer)
            if own := await self._own(consumer, count):
                return own
        now = time.monotonic()
        if now - self._claimed_at >= self.CLAIM_EVERY:
            self._claimed_at = now
            if claimed := await self._claim(consumer, count):
                return claimed
        return await self._new(consumer, count, block_ms)

    async def _own(self, consumer: str, count: int) -> list[Item]:
        own = await self.redis.xreadgroup(self.GROUP, consumer, {self.stream: "0"}, count=count)
        return self._items([e for _, es in (own or []) for e in es if e[1]])

    async def _claim(self, consumer: str, count: int) -> list[Item]:
        _, claimed, _ = await self.redis.xautoclaim(self.stream, self.GROUP, consumer, self.reclaim_idle_ms,
                                                    start_id="0-0", count=count)
        return self._items(list(claimed or []))

    async def _new(self, consumer: str, count: int, block_ms: int) -> list[Item]:
        resp = await self.redis.xreadgroup(self.GROUP, consumer, {self.stream: ">"}, count=count,
                                           block=block_ms or None)
        return self._items([e for _, es in (resp or []) for e in es])

    async def close(self) -> None:
        await self._offer_client.aclose()  # gives its connection back; the pool is the storage's

    async def set_aside(self, limit: int = 200) -> list[dict[str, Any]]:
        out = []
        for raw in await self.redis.lrange(self.dead, 0, limit - 1):
            d = json.loads(raw)
            out.append({k: d.get(k, "") for k in ("id", "platform", "user", "error", "at")})
        return out

    async def redrive(self, ids: list[str] | None = None) -> list[str]:
        wanted = set(ids) if ids is not None else None
        out = []
        for raw in await self.redis.lrange(self.dead, 0, -1):
            d = json.loads(raw)
            if wanted is not None and d.get("id") not in wanted:
                continue
            # Stream first, then off the dead list: a crash in between leaves a copy set aside, never none.
            await self.redis.xadd(self.stream, {"p": d["platform"], "k": d.get("key", d.get("user", "")),
                                                "d": json.dumps(d["payload"], ensure_ascii=False,
                                                                separators=(",", ":"))})
            await self.redis.lrem(self.dead, 1, raw)
            out.append(d["id"])
        return out

    async def prune(self, *, dead_before: datetime, dead_max: int, done_before: datetime) -> int:
        # Acknowledged entries leave the stream at once (XDEL) and seen-keys expire by TTL: only the
        # dead list needs pruning. Newest first, so the oldest are at the tail.
        removed = max(0, await self.redis.llen(self.dead) - dead_max)
        if removed:
            await self.redis.ltrim(self.dead, 0, dead_max - 1)
        while (last := await self.redis.lindex(self.dead, -1)) is not None:
            if datetime.fromisoformat(json.loads(last)["at"]) >= dead_before:
                break
            if not await self.redis.lrem(self.dead, -1, last):
                break
            removed += 1
        return removed

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
        data = json.dumps({"id": item.id, "platform": item.platform, "user": item.key.partition(":")[2],
                           "key": item.key.partition(":")[2], "error": error, "at": self.clock.now().isoformat(),
                           "payload": item.payload}, ensure_ascii=False)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(self.dead, data)
            pipe.xack(self.stream, self.GROUP, item.id)
            pipe.xdel(self.stream, item.id)
            await pipe.execute()


class DatabaseInbox(Inbox):
    """The embedded default's inbox: one SQLite table, one process."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock
        self._wakeup = asyncio.Event()
        self._taken = 0  # the highest id the worker loop has taken: it retries failures itself

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
        return await self._wait_pending(count, block_ms, after=0)

    async def take_new(self, consumer: str, count: int, block_ms: int) -> list[Item]:
        items = await self._wait_pending(count, block_ms, after=self._taken)
        if items:
            self._taken = max(self._taken, *(int(i.id) for i in items))
        return items

    async def _wait_pending(self, count: int, block_ms: int, after: int) -> list[Item]:
        items = await self._pending(count, after)
        if not items and block_ms:
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), block_ms / 1000)
            except asyncio.TimeoutError:
                return []
            items = await self._pending(count, after)
        return items

    async def _pending(self, count: int, after: int = 0) -> list[Item]:
        async with self.sessions() as session:
            rows = (await session.execute(select(InboxItem).where(InboxItem.status == "pending", InboxItem.id > after)
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

    async def set_aside(self, limit: int = 200) -> list[dict[str, Any]]:
        # The embedded inbox keeps no error text: the service log has it.
        async with self.sessions() as session:
            rows = (await session.execute(select(InboxItem).where(InboxItem.status == "dead")
                                          .order_by(InboxItem.id.desc()).limit(limit))).scalars()
            return [{"id": str(r.id), "platform": r.platform, "user": "", "error": "", "at": r.created_at.isoformat()}
                    for r in rows]

    async def redrive(self, ids: list[str] | None = None) -> list[str]:
        async with self.sessions() as session, session.begin():
            stmt = select(InboxItem).where(InboxItem.status == "dead").order_by(InboxItem.id)
            if ids is not None:
                stmt = stmt.where(InboxItem.id.in_([int(i) for i in ids if i.isdigit()]))
            rows = list((await session.execute(stmt)).scalars())
            for row in rows:
                # A new row (a new, higher id) so the running worker loop, which reads past what it has
                # taken, sees it; the platform id moves with it and still de-duplicates retries.
                await session.delete(row)
            await session.flush()
            for row in rows:
                session.add(InboxItem(platform=row.platform, dedupe_id=row.dedupe_id, payload=row.payload,
                                      status="pending", created_at=self.clock.now()))
        if rows:
            self._wakeup.set()
        return [str(r.id) for r in rows]

    async def prune(self, *, dead_before: datetime, dead_max: int, done_before: datetime) -> int:
        async with self.sessions() as session, session.begin():
            removed = (await session.execute(delete(InboxItem).where(
                InboxItem.status == "done", InboxItem.created_at < done_before))).rowcount or 0
            removed += (await session.execute(delete(InboxItem).where(
                InboxItem.status == "dead", InboxItem.created_at < dead_before))).rowcount or 0
            keep = select(InboxItem.id).where(InboxItem.status == "dead").order_by(InboxItem.id.desc()).limit(dead_max)
            removed += (await session.execute(delete(InboxItem).where(
                InboxItem.status == "dead", InboxItem.id.not_in(keep.scalar_subquery())))).rowcount or 0
        return removed
