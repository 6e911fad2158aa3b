"""The service's loops: the inbox worker, the outbox loop, the idle-draft sweeper, the timers, digests and pruning.

`run` is what a started process keeps running (the app factory starts it as the app's background work);
`process_item`, `sweep_once`, `run_timers`, `send_digests` and `run_pending` are one step of each, which
tests and the simulator call.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

from bot.services import Services
from bot.settings import duty_of, schedule_of
from dispatch import timer_kinds  # noqa: F401  (registers what each timer kind does with dispatch.timers)
from dispatch.digests import Audience, run_digests
from dispatch.timers import run_due
from relay.inbox import Item
from relay.inbox_worker import InboxWorker
from relay.redrive import redrive as redrive_rows
from relay.retention import prune_once

log = logging.getLogger(__name__)
STOP_GRACE = 10.0    # seconds a stopping process gives the events in hand
OUTBOX_POLL = 1.0    # seconds between looks for other processes' rows and retries; this process's wake it at once


async def process_item(services: Services, item: Item) -> None:
    """Hand one inbox item to its channel's processor (which queues what it answers)."""
    processor = services.processors.get(item.platform)
    if processor is None:
        # Never acknowledge what nobody here can read: a worker configured for it will take it.
        raise LookupError(f"no processor for {item.platform} in this process; item {item.id} left in the inbox")
    await processor(item)


async def sweep_once(services: Services) -> int:
    """Close idle drafts and tell their residents (through the outbox); returns how many were closed."""
    closed = await services.conversations.expire_idle()
    stamp = int(services.clock.now().timestamp())
    for key, replies in closed:
        chat = key.chat if key.chat != key.user else ""
        await services.outbox_writer.queue_replies(key.channel, key.user, chat, replies,
                                                   f"expired:{key.encode()}:{stamp}")
    return len(closed)


async def run_timers(services: Services) -> int:
    """Run the tickets' timers that fell due by the service's clock (auto sign-off, survey reminder and lapse)."""
    return await run_due(services.sessions, services.clock.now(), services.policy)


async def send_digests(services: Services) -> list[str]:
    """Send the digests that fell due by the service's clock, each once across processes (dispatch/digests.py)."""
    settings = services.settings
    alerts = settings.alerts
    groups = tuple((channel, chat) for channel, chat in (("wecom", alerts.wecom_chat_id),
                                                         ("feishu", alerts.feishu_chat_id)) if chat)
    return await run_digests(services.sessions, services.clock.now(), schedule=schedule_of(settings),
                             duty=duty_of(settings), audience=Audience(groups, frozenset(services.channels)),
                             sla=settings.sla)


async def prune(services: Services) -> dict[str, int]:
    return await prune_once(services.inbox, services.sessions, services.clock, services.settings.retention)


async def redrive(services: Services, inbox: list[str] | None = None, outbox: list[int] | None = None) -> dict:
    """Set-aside inbox items and dead outbox rows (those named; None: all) go through again."""
    return await redrive_rows(services.inbox, services.sessions, services.clock, services.wakeup, inbox, outbox)


async def run_pending(services: Services) -> int:
    """Process every waiting inbox item, run the timers and send the digests that fell due, and deliver every
    due outbox row (tests and the simulator call this, and `POST /sim/api/clock` after moving the clock);
    returns how many inbox items were processed."""
    done = await services.inbox.drain(lambda item: process_item(services, item))
    await run_timers(services)
    await send_digests(services)
    await services.courier.idle()  # replies are sent at once by the courier,
    while await services.outbox_sender.deliver_due():   # the rest (and failed sends) when due
        pass
    return done


def _every(seconds: float, job: Callable[[], Awaitable[object]], name: str):
    async def loop() -> None:
        while True:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:  # one failed round must not stop the loop for good
                log.exception("%s failed", name)
            await asyncio.sleep(seconds)
    return loop


async def outbox_loop(services: Services, stop: asyncio.Event) -> None:
    """Send what is due, then wait to be woken (a commit that wrote rows, relay.wakeup) or for the poll;
    when told to stop, finish the round in hand (a row half-marked would be sent again after its lease)."""
    while not stop.is_set():
        try:
            while not stop.is_set() and await services.outbox_sender.deliver_due():
                pass
        except Exception:
            log.exception("outbox delivery failed")
        await services.wakeup.wait(OUTBOX_POLL)


@contextlib.asynccontextmanager
async def running(services: Services) -> AsyncIterator[None]:
    """The loops, for as long as the context is open; then finish the events in hand and stop."""
    settings = services.settings
    stop = asyncio.Event()
    worker = InboxWorker(services.inbox, lambda item: process_item(services, item), _consumer_name(),
                         clock=services.clock, retry_for=settings.inbox.retry_for)
    inbox = asyncio.create_task(worker.run(stop), name="inbox")
    outbox = asyncio.create_task(outbox_loop(services, stop), name="outbox")
    tasks = [
        asyncio.create_task(_every(settings.sla.scan_interval, lambda: sweep_once(services), "sweeper")(),
                            name="sweeper"),
        asyncio.create_task(_every(settings.sla.scan_interval, lambda: run_timers(services), "timers")(),
                            name="timers"),
        asyncio.create_task(_every(settings.sla.scan_interval, lambda: send_digests(services), "digests")(),
                            name="digests"),
        asyncio.create_task(_every(settings.retention.interval, lambda: prune(services), "retention")(),
                            name="retention"),
    ]
    try:
        yield
    finally:
        # Stop taking events and finish the ones in hand; what is still unfinished after the grace period
        # stays unacknowledged in the inbox and is handled again (by this or another process).
        stop.set()
        services.wakeup.set()
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.gather(inbox, outbox, return_exceptions=True)),
                                   timeout=STOP_GRACE)
        except asyncio.TimeoutError:
            log.warning("stopping with events or sends in hand; they are handled again later")
        for task in (*tasks, inbox, outbox):
            task.cancel()
        await asyncio.gather(*tasks, inbox, outbox, return_exceptions=True)


def _consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"
