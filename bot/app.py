"""The aiohttp app factory: one function that the CLI and the tests both use.

`create_app` decides what runs (settings, the demo, background work) and mounts the routes that need no
started parts; at start one context (`_services`) opens the database and Redis, builds every part of the
service in order — each given what it uses — registers the configured channels by one loop over
bot.channel.CHANNELS, and keeps the result as one frozen `Services` (bot.services). The loops that keep a
process busy are in bot.runtime.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from types import MappingProxyType

from aiohttp import web

from bot import health, media
from bot.api import tickets as api_tickets
from bot.api import undelivered as api_undelivered
from bot.api import buildings as api_buildings
from bot.api import complaints as api_complaints
from bot.api import followups as api_followups
from bot.api import duty as api_duty
from bot.api import reports as api_reports
from bot.api.auth import bearer_auth
from bot.api.errors import api_error
from bot.calendar_watch import seed_at_start
from bot.channel import ChannelParts, channel_classes
from bot.console.app import mount as mount_console
from bot.http import undecodable_headers
from bot.metrics import setup_metrics
from bot.runtime import running
from bot.secrets import api_token_hashes, kept_secret
from bot.services import SERVICES, Services
from bot.settings import Settings, duty_of, policy_of
from bot.tokens import Tokens
from conversations.classify import load_rules
from conversations.engine import Deps, Engine, IntakeLimits
from conversations.storage import make_storage
from dispatch.roster import sync_configuration
from relay.card_actions import CardActions
from relay.courier import Courier
from relay.inbox import DatabaseInbox, Inbox, RedisInbox
from relay.messengers import Messengers
from relay.outbox_sender import OutboxSender
from relay.outbox_writer import OutboxWriter
from relay.wakeup import OutboxWakeup
from store.clock import Clock, ShiftedClock
from store.db import make_database, make_sessionmaker, migrate, schema_revision
from store.media import MediaStore
from templates.texts import Texts

log = logging.getLogger(__name__)
# Large enough for a photo posted to the simulator as base64; platform webhooks check their own limits.
MAX_BODY = 16 * 1024 * 1024


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
    if clock is None:
        # The simulator on its own may move its clock on (POST /sim/api/clock); beside a platform, never.
        clock = (ShiftedClock if play else Clock)(settings.service.timezone)
    start = _Start(settings, clock, redis_prefix or settings.redis.prefix,
                   demo_cast=demo_cast, sim_needs_token=sim_needs_token, run_background=run_background)
    app.cleanup_ctx.append(start.services)
    app.on_startup.append(_freeze_startup_objects)
    app.add_routes(health.routes)
    setup_metrics(app, settings, listener=metrics_listener)
    app.add_routes(media.routes)
    app.add_routes(api_tickets.routes)
    app.add_routes(api_undelivered.routes)
    app.add_routes(api_buildings.routes)
    app.add_routes(api_followups.routes)
    app.add_routes(api_complaints.routes)
    app.add_routes(api_duty.routes)
    app.add_routes(api_reports.routes)
    mount_console(app)
    return app


class _Start:
    """What `create_app` decided, and the one start-up context that builds the service from it."""

    def __init__(self, settings: Settings, clock: Clock, redis_prefix: str, *, demo_cast: bool,
                 sim_needs_token: bool, run_background: bool) -> None:
        self.settings, self.clock, self.redis_prefix = settings, clock, redis_prefix
        self.demo_cast, self.sim_needs_token, self.run_background = demo_cast, sim_needs_token, run_background

    async def services(self, app: web.Application) -> AsyncIterator[None]:
        settings, clock, prefix = self.settings, self.clock, self.redis_prefix
        async with contextlib.AsyncExitStack() as stack:
            database, sessions = await _open_database(settings)
            stack.push_async_callback(database.dispose)
            async with sessions() as session, session.begin():
                await sync_configuration(session, settings.trades, settings.staff, clock.now(),
                                         settings.service.property, demo=self.demo_cast)
            await seed_at_start(sessions, clock.now(), clock.tz)   # BR-3's working calendar
            secret = (settings.service.secret_key.get_secret_value()
                      or await kept_secret(sessions, "secret_key")).encode()
            api_token_digests = await api_token_hashes(sessions, settings)
            if settings.configured and settings.simulator_enabled:
                # The public demo credentials never serve a configured installation.
                from bot.sim.demo_keys import with_installation_credentials
                settings = with_installation_credentials(settings, secret)

            storage = make_storage(settings.redis.url, clock=clock, prefix=prefix, pool_size=settings.redis.pool_size,
                                   max_conversations=settings.intake.max_conversations)
            stack.push_async_callback(storage.close)
            redis = storage.redis if settings.redis.url else None
            inbox: Inbox = RedisInbox(redis, prefix=prefix, clock=clock) if redis is not None \
                else DatabaseInbox(sessions, clock)
            stack.push_async_callback(inbox.close)
            texts = Texts(settings.service.timezone)
            classes = channel_classes(settings)
            channel_names = frozenset(c.name for c in classes)
            policy = policy_of(settings, channel_names)
            conversations = Engine(Deps(
                texts=texts, rules=load_rules(settings.intake.rules_file or None), sessions=sessions,
                storage=storage, media=MediaStore(settings.media.dir), clock=clock,
                intake=IntakeLimits(settings.intake.draft_ttl, settings.intake.duplicate_window,
                                    settings.intake.max_photos, settings.intake.max_photo_bytes,
                                    settings.intake.max_recordings, settings.intake.max_voice_bytes),
                tz=settings.service.timezone, property=settings.service.property, channels=channel_names,
                policy=policy, duty=duty_of(settings)))
            messengers = Messengers()
            wakeup = OutboxWakeup(database)
            courier = Courier(database, sessions, clock, messengers, wakeup, retry_for=settings.outbox.retry_for)
            outbox_writer = OutboxWriter(database, clock, courier)
            card_actions = CardActions(sessions, clock, texts, outbox_writer, policy, flows=conversations.staff)
            tokens = Tokens(clock, redis, prefix=prefix)
            parts = ChannelParts(clock=clock, texts=texts, sessions=sessions, inbox=inbox,
                                 conversations=conversations, outbox_writer=outbox_writer,
                                 card_actions=card_actions, tokens=tokens, redis=redis, redis_prefix=prefix)
            channels = {}
            for cls in classes:  # every platform the same way: built, mounted, its messenger registered
                channel = channels[cls.name] = cls(settings, parts)
                stack.push_async_callback(channel.close)
                channel.mount(app)
                messengers.register(channel.messenger)
            sim = channels.get("sim")
            services = Services(
                settings=settings, policy=policy, clock=clock, texts=texts, database=database, sessions=sessions, storage=storage,
                redis=redis, media=conversations.deps.media, tokens=tokens, inbox=inbox, messengers=messengers,
                wakeup=wakeup, courier=courier, outbox_writer=outbox_writer,
                outbox_sender=OutboxSender(sessions, clock, messengers, texts, retry_for=settings.outbox.retry_for,
                                           sla=settings.sla),
                card_actions=card_actions, conversations=conversations, channels=MappingProxyType(channels),
                processors={name: channel.process for name, channel in channels.items()},
                secret=secret, api_token_digests=api_token_digests, demo_cast=self.demo_cast,
                sim_log=sim.log if sim is not None else None, sim_needs_token=self.sim_needs_token)
            app[SERVICES] = services
            for channel in channels.values():
                await channel.start()
            # Stopped before the channels, Redis and the database close: they may still send.
            stack.push_async_callback(_courier_idle, courier)
            if self.run_background:
                await stack.enter_async_context(running(services))
            yield


async def _open_database(settings: Settings):
    url = settings.database.url
    if url.startswith("sqlite"):
        await migrate(url)  # the embedded default needs no separate `repairbot migrate`
    database = make_database(url, settings.database.pool_size)
    current, head = await schema_revision(database)
    if current != head:
        await database.dispose()
        raise SchemaOutOfDate(f"the database schema is at {current or 'nothing'}, this release needs {head}: "
                              "run `repairbot migrate` first")
    return database, make_sessionmaker(database)


async def _courier_idle(courier: Courier) -> None:
    try:  # what is still unsent keeps its lease and is sent by whichever process polls next
        await asyncio.wait_for(courier.idle(), timeout=5)
    except asyncio.TimeoutError:
        log.warning("stopping with replies still being sent; they are sent again after their lease")


async def _freeze_startup_objects(app: web.Application) -> None:
    """What start-up built (modules, settings, templates, compiled SQL) lives as long as the process: moved
    out of the garbage collector's sight, it is not scanned again on every collection of a busy service."""
    import gc
    gc.collect()
    gc.freeze()


class SchemaOutOfDate(RuntimeError):
    """The database was not migrated to this release (PostgreSQL is migrated by `repairbot migrate`)."""


def with_demo_staff(settings: Settings) -> Settings:
    """The simulator's cast (bot/sim/demo.toml) when the configuration names no staff, with its price and
    material lists where the configuration has none, so the demo can quote and complete a job."""
    import tomllib
    from importlib.resources import files

    from bot.settings import MaterialSettings, PriceSettings, StaffSettings, TradeSettings
    demo = tomllib.loads((files("bot.sim") / "demo.toml").read_text(encoding="utf-8"))
    return settings.model_copy(update={
        "staff": [StaffSettings(**s) for s in demo["staff"]],
        "trades": settings.trades or [TradeSettings(**t) for t in demo["trades"]],
        "prices": settings.prices or [PriceSettings(**p) for p in demo.get("prices", [])],
        "materials": settings.materials or [MaterialSettings(**m) for m in demo.get("materials", [])],
    })


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
