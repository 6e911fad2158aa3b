"""The service's parts, built once at start by the app factory (bot.app) and read by handlers through `services_of`.

Every part gets what it uses through its constructor; nothing reaches into the aiohttp app for another part.
A reader follows one message through these names: a channel's webhook → `inbox` → `runtime` → the channel's
processor → `conversations` → `outbox_writer` → `courier` / `outbox_sender` → the channel's messenger.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from bot.channel import Channel
    from bot.settings import Settings
    from bot.sim.log import SentLog
    from bot.tokens import Tokens
    from conversations.engine import Engine
    from conversations.storage import StateStorage
    from templates.texts import Texts
    from relay.card_actions import CardActions
    from relay.courier import Courier
    from relay.inbox import Inbox, Item
    from relay.messengers import Messengers
    from relay.outbox_sender import OutboxSender
    from relay.outbox_writer import OutboxWriter
    from relay.wakeup import OutboxWakeup
    from dispatch.policy import Policy
    from store.clock import Clock
    from store.media import MediaStore

Processor = Callable[["Item"], Awaitable[None]]


@dataclass(frozen=True, eq=False)
class Services:
    settings: Settings            # as served: with the simulator's demo cast and demo apps when they play
    policy: Policy                # what the configuration decides about a ticket's life (prices, waits)
    clock: Clock
    texts: Texts                  # every sentence a person reads (templates/)
    database: AsyncEngine         # the SQLAlchemy engine (pool); `sessions` open units of work on it
    sessions: async_sessionmaker[AsyncSession]
    storage: StateStorage         # conversation state: memory, or Redis
    redis: Redis | None           # the state store's Redis, shared by the inbox, tokens and nonces
    media: MediaStore
    tokens: Tokens                # platform access tokens, one cache for every channel
    inbox: Inbox
    messengers: Messengers
    wakeup: OutboxWakeup
    courier: Courier
    outbox_writer: OutboxWriter
    outbox_sender: OutboxSender
    card_actions: CardActions
    conversations: Engine         # the intake: one message in, its replies out
    channels: Mapping[str, Channel]   # by CHANNEL name
    processors: dict[str, Processor]  # inbox platform → its channel's processor
    secret: bytes                 # signs photo URLs
    api_token_digests: frozenset[bytes]  # SHA-256 digests of the bearer tokens
    demo_cast: bool               # the staff are the simulator's cast (bot/sim/demo.toml)
    sim_log: SentLog | None       # what the simulator's channel sent, when the simulator is on
    sim_needs_token: bool         # the simulator beside a real platform: its API needs a bearer token


SERVICES: web.AppKey[Services] = web.AppKey("services", Services)


def services_of(source: web.Request | web.Application) -> Services:
    """The started service's parts, from a request (handlers, also of a sub-application such as the console,
    whose own `request.app` holds none of them) or the app (tests, the CLI)."""
    if isinstance(source, web.Request):
        return source.config_dict[SERVICES]
    return source[SERVICES]
