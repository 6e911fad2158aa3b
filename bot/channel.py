"""A channel is one platform the desk speaks on; every channel has the same members, and one table lists them.

A channel is built once the service's parts are up (its constructor takes the configuration and the
`ChannelParts` it uses), then `mount`s its webhook routes, offers its `messenger` to the relay, works its
own inbox items in `process`, and has `start` / `close` around the service's life. Adding a platform is a
new package under bot/ with a Channel class in its adapter.py, and one line in `CHANNELS`.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from aiohttp import web

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.settings import Settings
    from bot.tokens import Tokens
    from conversations.engine import Engine
    from templates.texts import Texts
    from relay.card_actions import CardActions
    from relay.inbox import Inbox, Item
    from relay.messengers import Messenger
    from relay.outbox_writer import OutboxWriter
    from store.clock import Clock


@dataclass(frozen=True)
class ChannelParts:
    """What the relay and the conversations offer a channel; each takes what it uses in its constructor."""

    clock: Clock
    texts: Texts
    sessions: async_sessionmaker[AsyncSession]
    inbox: Inbox
    conversations: Engine
    outbox_writer: OutboxWriter
    card_actions: CardActions
    tokens: Tokens
    redis: Redis | None
    redis_prefix: str


class Channel:
    name: ClassVar[str]     # the package's CHANNEL: its messenger, inbox items and outbox rows carry it
    messenger: Messenger

    def __init__(self, settings: Settings, parts: ChannelParts) -> None:
        raise NotImplementedError

    def routes(self) -> list[web.RouteDef]:
        """The webhook endpoints the platform calls."""
        return []

    def mount(self, app: web.Application) -> None:
        app.router.add_routes(self.routes())

    async def process(self, item: Item) -> None:
        """Work one of this channel's inbox items (the runtime calls it, in the item's lane)."""
        raise LookupError(f"{self.name} takes no inbox items; item {item.id} left in the inbox")

    async def start(self) -> None:
        """Before the first request (the app has started)."""

    async def close(self) -> None:
        """Give back what the channel holds (its HTTP client session)."""


# (when it is on, where its class lives): one line per platform; a channel's module is imported only
# when its configuration turns it on (lark_oapi-free Feishu still costs start-up time).
CHANNELS: tuple[tuple[Callable[[Settings], bool], str], ...] = (
    (lambda s: s.wecom is not None, "bot.wecom.adapter:WecomChannel"),
    (lambda s: s.wecom is not None, "bot.wecom_kf.adapter:WecomKfChannel"),  # 微信客服 rides on the WeCom app
    (lambda s: s.wechat_mp is not None, "bot.wechat_mp.adapter:WechatMpChannel"),
    (lambda s: s.feishu is not None, "bot.feishu.adapter:FeishuChannel"),
    (lambda s: s.simulator_enabled, "bot.sim.adapter:SimChannel"),
)


def channel_classes(settings: Settings) -> list[type[Channel]]:
    """The classes of the channels this configuration turns on, in table order."""
    out = []
    for enabled, where in CHANNELS:
        if enabled(settings):
            module, name = where.split(":")
            out.append(getattr(importlib.import_module(module), name))
    return out
