"""Typed application keys: every shared resource of the aiohttp app, declared in one place."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from bot.inbox import Inbox, Item
    from bot.outbound import Messengers
    from bot.outbox_sender import Courier
    from bot.outbox_writer import ReplyOutbox
    from conversations.messages import ButtonPress
    from bot.settings import Settings
    from bot.sim.log import SentLog
    from conversations.engine import Engine
    from store.clock import Clock

SETTINGS: web.AppKey["Settings"] = web.AppKey("settings")
DEMO_CAST: web.AppKey[bool] = web.AppKey("demo_cast")  # the staff are the simulator's cast (bot/sim/demo.toml)
CLOCK: web.AppKey["Clock"] = web.AppKey("clock")
DB: web.AppKey["AsyncEngine"] = web.AppKey("db")
SESSIONS: web.AppKey["async_sessionmaker[AsyncSession]"] = web.AppKey("sessions")
ENGINE: web.AppKey["Engine"] = web.AppKey("engine")
MESSENGERS: web.AppKey["Messengers"] = web.AppKey("messengers")
SIM_LOG: web.AppKey["SentLog"] = web.AppKey("sim_log")
SECRET: web.AppKey[bytes] = web.AppKey("secret")
API_TOKENS: web.AppKey[frozenset] = web.AppKey("api_tokens")  # SHA-256 digests of the bearer tokens
SIM_NEEDS_TOKEN: web.AppKey[bool] = web.AppKey("sim_needs_token")  # the simulator beside a real platform
INBOX: web.AppKey["Inbox"] = web.AppKey("inbox")
# platform name → how to process one of its inbox items (registered by each platform's setup)
PROCESSORS: web.AppKey[dict[str, Callable[[web.Application, "Item"], Awaitable[None]]]] = web.AppKey("processors")
CARD_ACTIONS: web.AppKey[Callable[["ButtonPress"], Awaitable[object]]] = web.AppKey("card_actions")
OUTBOX_WAKEUP: web.AppKey[asyncio.Event] = web.AppKey("outbox_wakeup")
COURIER: web.AppKey["Courier"] = web.AppKey("courier")
REPLIES: web.AppKey["ReplyOutbox"] = web.AppKey("replies")
