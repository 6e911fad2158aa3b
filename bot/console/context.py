"""What a console handler reads: the started service, the console's own parts, the signed-in user."""
from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bot.console.lockout import Lockout
from bot.console.staff import User
from bot.services import Services, services_of


def services(request: web.Request) -> Services:
    """The service's parts (`services_of` finds them from the console's sub-application too)."""
    return services_of(request)


@dataclass
class Console:
    """The console's parts that need the started service (its secret, clock and Redis), built at first use."""

    lockout: Lockout | None = None

    def lockout_of(self, s: Services) -> Lockout:
        if self.lockout is None:
            # The installation's Redis prefix, as every other part keeps its keys under it.
            self.lockout = Lockout(s.clock, s.redis, s.tokens.prefix)
        return self.lockout


CONSOLE: web.AppKey[Console] = web.AppKey("console", Console)
USER: web.RequestKey[User] = web.RequestKey("console_user", User)


def console_of(request: web.Request) -> Console:
    return request.config_dict[CONSOLE]


def user_of(request: web.Request) -> User:
    return request[USER]
