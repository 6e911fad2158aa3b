"""Typed application keys: every shared resource of the aiohttp app, declared in one place."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from bot.outbound import Messengers
    from bot.settings import Settings
    from bot.sim.log import SentLog
    from conversations.engine import Engine
    from store.clock import Clock

SETTINGS: web.AppKey["Settings"] = web.AppKey("settings")
CLOCK: web.AppKey["Clock"] = web.AppKey("clock")
DB: web.AppKey["AsyncEngine"] = web.AppKey("db")
SESSIONS: web.AppKey["async_sessionmaker[AsyncSession]"] = web.AppKey("sessions")
ENGINE: web.AppKey["Engine"] = web.AppKey("engine")
MESSENGERS: web.AppKey["Messengers"] = web.AppKey("messengers")
SIM_LOG: web.AppKey["SentLog"] = web.AppKey("sim_log")
SECRET: web.AppKey[bytes] = web.AppKey("secret")
API_TOKENS: web.AppKey[frozenset] = web.AppKey("api_tokens")
