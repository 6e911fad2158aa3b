"""The aiohttp app factory: one function that the CLI and the tests both use."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot import health, keys, media
from bot.api import tickets as api_tickets
from bot.api import undelivered as api_undelivered
from bot.api import buildings as api_buildings
from bot.api.auth import bearer_auth
from bot.api.errors import api_error
from bot.card_actions import press_and_reply
from bot.http import undecodable_headers
from bot.metrics import setup_metrics
from bot.outbound import Messengers, queue_replies
from bot.outbox_sender import deliver_due
from bot.secrets import api_token_hashes, kept_secret
from bot.settings import Settings
from bot.sim import routes as sim_routes
from bot.sim.log import SentLog, SimMessenger
from conversations.classify import load_rules
from conversations.engine import Deps, Engine, IntakeLimits
from conversations.storage import make_storage
from dispatch.roster import sync_configuration
from store.clock import Clock
from store.db import make_engine, make_sessionmaker, migrate, schema_revision
from store.media import MediaStore
from templates.texts import Texts

log = logging.getLogger(__name__)
# Large enough for a photo posted to the simulator as base64; platform webhooks check their own limits.
MAX_BODY = 16 * 1024 * 1024
STOP_GRACE = 10.0  # seconds a stopping process gives the events in hand


def create_app(settings: Settings, *, clock: Clock | None = None, run_background: bool = True,
               redis_prefix: str | None = None, demo_wecom: bool = False, demo_feishu: bool = False,
               metrics_listener: bool = True) -> web.Application:
    """`demo_wecom` / `demo_feishu`: with no platform configured, the simulator plays WeCom and Feishu on
    the wire against built-in fake APIs (what `serve` shows a new user). `metrics_listener`: open
    `[service] metrics_port` (the web process does; workers do not)."""
    play = settings.simulator_enabled and not settings.platforms
    demo_wecom, demo_feishu = demo_wecom and play, demo_feishu and play
    # Beside a real platform the simulator would let anyone speak and press buttons as anyone.
    sim_needs_token = settings.simulator_enabled and bool(settings.platforms)
    if not settings.platforms and not settings.simulator_enabled:
        log.warning("no platform section ([wecom], [feishu], [wechat_mp]) configured: serving the API only")
    demo_cast = settings.simulator_enabled and not settings.staff
    if demo_cast:
        settings = with_demo_staff(settings)
    if demo_wecom:
        from bot.sim.wecom_play import with_demo_wecom
        settings = with_demo_wecom(settings)
    if demo_feishu:
        from bot.sim.feishu_play import with_demo_feishu
        settings = with_demo_feishu(settings)
    app = web.Application(middlewares=[undecodable_headers, json_errors, bearer_auth], client_max_size=MAX_BODY)
    app[keys.SETTINGS] = settings  # with the simulator's demo cast when none is configured
    app[keys.DEMO_CAST] = demo_cast
    app[keys.CLOCK] = clock or Clock(settings.service.timezone)
    app[keys.MESSENGERS] = Messengers()
    app[keys.PROCESSORS] = {}
    app[keys.CARD_ACTIONS] = lambda p: press_and_reply(app, p)
    app.cleanup_ctx.append(_database)
    if (demo_wecom or demo_feishu) and settings.configured:
        from bot.sim.demo_keys import installation_credentials  # the public demo credentials never serve
        app.cleanup_ctx.append(installation_credentials)
    app.cleanup_ctx.append(_make_engine(redis_prefix or settings.redis.prefix))
    app.cleanup_ctx.append(_delivery)  # stopped before Redis and the database close: it may still send
    if run_background:
        app.cleanup_ctx.append(_background)
    app.on_startup.append(_freeze_startup_objects)
    app.add_routes(health.routes)
    setup_metrics(app, settings, listener=metrics_listener)
    app.add_routes(media.routes)
    app.add_routes(api_tickets.routes)
    app.add_routes(api_undelivered.routes)
    app.add_routes(api_buildings.routes)
    _setup_platforms(app, settings)
    app[keys.SIM_NEEDS_TOKEN] = sim_needs_token
    if settings.simulator_enabled:
        app[keys.SIM_LOG] = SentLog(app[keys.CLOCK])
        app[keys.MESSENGERS].register(SimMessenger(app[keys.SIM_LOG]))
        app.add_routes(sim_routes.routes)
    if demo_wecom:
        from bot.sim import wecom_play
        from bot.sim.wecom_api import setup_fake_wecom
        setup_fake_wecom(app, corp_id=wecom_play.DEMO_CORP_ID, secret=wecom_play.DEMO_SECRET, clock=app[keys.CLOCK])
        app.add_routes(wecom_play.routes)
    if demo_feishu:
        from bot.sim import feishu_play
        feishu_play.setup(app)
    return app


def _setup_platforms(app: web.Application, settings: Settings) -> None:
    """Each configured platform mounts its webhook and registers its messenger and inbox processor."""
    if settings.wecom is not None:
        from bot.wecom import adapter as wecom
        from bot.wecom_kf import adapter as wecom_kf
        wecom.setup(app, settings)
        wecom_kf.setup(app, settings)  # 微信客服 rides on the WeCom app's callback and token
    if settings.wechat_mp is not None:
        from bot.wechat_mp import adapter as wechat_mp
        wechat_mp.setup(app, settings)
    if settings.feishu is not None:
        from bot.feishu import adapter as feishu  # never imported by an app without Feishu
        feishu.setup(app, settings)


async def _freeze_startup_objects(app: web.Application) -> None:
    """What start-up built (modules, settings, templates, compiled SQL) lives as long as the process: moved
    out of the garbage collector's sight, it is not scanned again on every collection of a busy service."""
    import gc
    gc.collect()
    gc.freeze()


class SchemaOutOfDate(RuntimeError):
    """The database was not migrated to this release (PostgreSQL is migrated by `repairbot migrate`)."""


def with_demo_staff(settings: Settings) -> Settings:
    """The simulator's cast (bot/sim/demo.toml) when the configuration names no staff."""
    import tomllib
    from importlib.resources import files

    from bot.settings import StaffSettings, TradeSettings
    demo = tomllib.loads((files("bot.sim") / "demo.toml").read_text(encoding="utf-8"))
    return settings.model_copy(update={
        "staff": [StaffSettings(**s) for s in demo["staff"]],
        "trades": settings.trades or [TradeSettings(**t) for t in demo["trades"]],
    })


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    url = settings.database.url
    if url.startswith("sqlite"):
        await migrate(url)  # the embedded default needs no separate `repairbot migrate`
    db = make_engine(url, settings.database.pool_size)
    current, head = await schema_revision(db)
    if current != head:
        await db.dispose()
        raise SchemaOutOfDate(f"the database schema is at {current or 'nothing'}, this release needs {head}: "
                              "run `repairbot migrate` first")
    app[keys.DB] = db
    app[keys.SESSIONS] = make_sessionmaker(db)
    clock = app[keys.CLOCK]
    async with app[keys.SESSIONS]() as session, session.begin():
        await sync_configuration(session, settings.trades, settings.staff, clock.now(), settings.service.property,
                                 demo=app[keys.DEMO_CAST])
    secret = settings.service.secret_key.get_secret_value() or await kept_secret(app[keys.SESSIONS], "secret_key")
    app[keys.SECRET] = secret.encode()
    app[keys.API_TOKENS] = await api_token_hashes(app[keys.SESSIONS], settings)
    yield
    await db.dispose()


async def _delivery(app: web.Application) -> AsyncIterator[None]:
    """This process's courier and the reply writer that feeds it."""
    from bot.outbox_sender import Courier
    from bot.outbox_writer import ReplyOutbox
    app[keys.COURIER] = courier = Courier(app)
    app[keys.REPLIES] = ReplyOutbox(app[keys.DB], app[keys.CLOCK], courier)
    yield
    try:  # what is still unsent keeps its lease and is sent by whichever process polls next
        await asyncio.wait_for(courier.idle(), timeout=5)
    except asyncio.TimeoutError:
        log.warning("stopping with replies still being sent; they are sent again after their lease")


def _make_engine(redis_prefix: str):
    async def _engine(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        clock = app[keys.CLOCK]
        storage = make_storage(settings.redis.url, clock=clock, prefix=redis_prefix,
                               pool_size=settings.redis.pool_size,
                               max_conversations=settings.intake.max_conversations)
        deps = Deps(
            texts=Texts(settings.service.timezone),
            rules=load_rules(settings.intake.rules_file or None),
            sessions=app[keys.SESSIONS], storage=storage, media=MediaStore(settings.media.dir), clock=clock,
            intake=IntakeLimits(settings.intake.draft_ttl, settings.intake.duplicate_window,
                                settings.intake.max_photos, settings.intake.max_photo_bytes),
            tz=settings.service.timezone, property=settings.service.property,
        )
        deps.channels = app[keys.MESSENGERS].channels()
        app[keys.ENGINE] = Engine(deps)
        if settings.redis.url:
            from bot.inbox import RedisInbox
            app[keys.INBOX] = RedisInbox(storage.redis, prefix=redis_prefix, clock=clock)
        else:
            from bot.inbox import DatabaseInbox
            app[keys.INBOX] = DatabaseInbox(app[keys.SESSIONS], clock)
        yield
        await app[keys.INBOX].close()
        await storage.close()
    return _engine


async def sweep_once(app: web.Application) -> int:
    """Close idle drafts and tell their residents (through the outbox); returns how many were closed."""
    closed = await app[keys.ENGINE].expire_idle()
    stamp = int(app[keys.CLOCK].now().timestamp())
    for key, replies in closed:
        chat = key.chat if key.chat != key.user else ""
        await queue_replies(app, key.channel, key.user, chat, replies, f"expired:{key.encode()}:{stamp}")
    return len(closed)


async def process_item(app: web.Application, item) -> None:
    """Hand one inbox item to its platform's processor, then deliver what it queued."""
    processor = app[keys.PROCESSORS].get(item.platform)
    if processor is None:
        # Never acknowledge what nobody here can read: a worker configured for it will take it.
        raise LookupError(f"no processor for {item.platform} in this process; item {item.id} left in the inbox")
    await processor(app, item)


async def run_pending(app: web.Application) -> int:
    """Process every waiting inbox item and deliver every due outbox row (tests call this directly);
    returns how many inbox items were processed."""
    done = await app[keys.INBOX].drain(lambda item: process_item(app, item))
    await app[keys.COURIER].idle()  # replies are sent at once by the courier,
    while await deliver_due(app):   # the rest (and failed sends) when due
        pass
    return done


def _every(seconds: float, job, name: str):
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


async def _background(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    inbox = app[keys.INBOX]
    app[keys.OUTBOX_WAKEUP] = wake = asyncio.Event()

    async def outbox_loop() -> None:
        # Woken at once by new rows from this process; polls for others' rows and retries.
        while True:
            try:
                while await deliver_due(app):
                    pass
            except Exception:
                log.exception("outbox delivery failed")
            try:
                await asyncio.wait_for(wake.wait(), timeout=1.0)
            except asyncio.TimeoutError:
                pass
            wake.clear()

    stop = asyncio.Event()
    worker = asyncio.create_task(inbox.run(lambda item: process_item(app, item), consumer=_consumer_name(),
                                           stop=stop, clock=app[keys.CLOCK], retry_for=settings.inbox.retry_for),
                                 name="inbox")
    from bot.retention import prune_once
    tasks = [
        asyncio.create_task(_every(settings.sla.scan_interval, lambda: sweep_once(app), "sweeper")(), name="sweeper"),
        asyncio.create_task(outbox_loop(), name="outbox"),
        asyncio.create_task(_every(settings.retention.interval, lambda: prune_once(app), "retention")(),
                            name="retention"),
    ]
    yield
    # Stop taking events and finish the ones in hand; what is still unfinished after the grace period
    # stays unacknowledged in the inbox and is handled again (by this or another process).
    stop.set()
    try:
        await asyncio.wait_for(asyncio.shield(worker), timeout=STOP_GRACE)
    except asyncio.TimeoutError:
        log.warning("stopping with inbox events in hand; they are handled again later")
    for task in (*tasks, worker):
        task.cancel()
    await asyncio.gather(*tasks, worker, return_exceptions=True)


def _consumer_name() -> str:
    import os
    import socket
    return f"{socket.gethostname()}-{os.getpid()}"


@web.middleware
async def json_errors(request: web.Request, handler):
    """Unexpected errors become a JSON 500 without internals; HTTP errors pass through."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        raise api_error(500, "internal")
