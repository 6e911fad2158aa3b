"""The console as a sub-application under /admin: its own middlewares (sessions, CSRF, login) touch no other
path of the service, and bot/app.py mounts it with one call."""
from __future__ import annotations

import warnings
from importlib.resources import files

from aiohttp import web
from aiohttp_session import session_middleware

from bot.console import (
    duty, entry, fees, followups, login, print_view, reports, ticket_list, ticket_page, undelivered,
)
from bot.console.context import CONSOLE, Console
from bot.console.guards import csrf_check, error_pages, login_required, security_headers
from bot.console.sessions import CookieStorage

# aiohttp-session 2.12 keeps its session in the request under a plain string key; aiohttp asks for typed keys.
warnings.filterwarnings("ignore", category=web.NotAppKeyWarning, module="aiohttp_session")

PREFIX = "/admin"
ROUTES = (login.routes, ticket_list.routes, ticket_page.routes, print_view.routes, entry.routes,
          undelivered.routes, fees.routes, followups.routes, duty.routes, reports.routes)


def mount(app: web.Application) -> None:
    console = web.Application(middlewares=[security_headers, error_pages, session_middleware(CookieStorage()),
                                           csrf_check, login_required])
    console[CONSOLE] = Console()
    for table in ROUTES:
        # The tables name full paths ("/admin/tickets"), as a reader greps for them; the sub-application
        # adds its prefix itself.
        for route in table:
            console.router.add_route(route.method, route.path.removeprefix(PREFIX), route.handler)
    # Plain CSS and JavaScript shipped with the templates: nothing is fetched from elsewhere, nothing is built.
    console.router.add_static("/static/", str(files("templates") / "console" / "static"))
    app.add_subapp(PREFIX, console)
