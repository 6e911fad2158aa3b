"""The `repairbot` command: serve, migrate, worker, check-config, redrive, units, calendar, passwd."""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from bot.settings import ConfigError, load_settings
from bot.settings_checks import check_production


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="repairbot", description="Chat repair desk for property management")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the HTTP service (and its background work)")
    serve.add_argument("--config", help="TOML configuration file (default: $REPAIRBOT_CONFIG or none)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--demo", action="store_true",
                       help="mount the simulator beside a configuration ([service] demo = true)")
    serve.add_argument("--web-only", action="store_true",
                       help="HTTP only; background work (inbox, outbox, timers) runs in `repairbot worker` processes")
    for name, text in (("migrate", "bring the database schema up to date"),
                       ("worker", "run background work only (timers, outbox)"),
                       ("check-config", "validate a configuration and say what is wrong")):
        sp = sub.add_parser(name, help=text)
        sp.add_argument("--config")
    redrive = sub.add_parser("redrive", help="send set-aside inbox items and dead outbox rows through again")
    redrive.add_argument("--config")
    redrive.add_argument("--inbox", action="append", metavar="ID", help="only this inbox item (repeatable)")
    redrive.add_argument("--outbox", action="append", type=int, metavar="ID", help="only this outbox row (repeatable)")
    from bot.units_cli import add_parser as add_units_parser
    add_units_parser(sub)
    from bot.calendar_cli import add_parser as add_calendar_parser
    add_calendar_parser(sub)
    from bot.console.passwd_cli import add_parser as add_passwd_parser
    add_passwd_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin chatter hides our own lines
    try:
        settings = load_settings(args.config)
        if getattr(args, "demo", False):
            settings.service.demo = True
        if args.command == "check-config" or (args.command in ("serve", "worker") and settings.configured):
            check_production(settings)  # the zero-config demo has nothing to check
    except ConfigError as e:
        print(f"configuration error:\n{e}", file=sys.stderr)
        return 2
    if args.command == "check-config":
        mode = "simulator" if settings.simulator_enabled else "API only"
        print(f"configuration OK: database {settings.database.url.split('://')[0]}, "
              f"state {'redis' if settings.redis.url else 'in-process'}, "
              f"platforms {', '.join(settings.platforms) or f'none ({mode})'}"
              f"{', demo simulator' if settings.platforms and settings.simulator_enabled else ''}, "
              f"{len(settings.trades)} trades, {len(settings.staff)} staff, "
              f"duty desk {settings.duty.front_desk}, central control {settings.duty.central_control} "
              f"({settings.service.timezone})")
        from datetime import datetime
        from zoneinfo import ZoneInfo

        from bot.settings_checks import duty_advisories
        for note in duty_advisories(settings, datetime.now(ZoneInfo(settings.service.timezone)).date()):
            print(f"warning: {note}")
        return 0
    if args.command == "migrate":
        from store.db import migrate_sync
        migrate_sync(settings.database.url)
        print("database schema is up to date")
        return 0
    if args.command == "worker":
        return asyncio.run(_worker(settings))
    if args.command == "units":
        from bot.units_cli import run as run_units
        return run_units(settings, args)
    if args.command == "calendar":
        from bot.calendar_cli import run as run_calendar
        return run_calendar(settings, args)
    if args.command == "passwd":
        from bot.console.passwd_cli import run as run_passwd
        return run_passwd(settings, args)
    if args.command == "redrive":
        return asyncio.run(_redrive(settings, args.inbox, args.outbox))
    from aiohttp import web

    from bot.app import SchemaOutOfDate, create_app
    if settings.simulator_enabled and settings.service.public_url == "http://127.0.0.1:8080":
        # The simulator calls this very process (its fake WeCom API, its callback URL).
        host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
        settings.service.public_url = f"http://{host}:{args.port}"
    if settings.simulator_enabled:
        logging.getLogger("repairbot").info("simulator at http://%s:%s/sim/", args.host, args.port)
    # No access log: it costs most of the throughput of a fast handler; metrics cover traffic.
    if args.web_only and not settings.redis.url:
        print("--web-only needs [redis] url: a worker process must share the inbox", file=sys.stderr)
        return 2
    app = create_app(settings, demo_wecom=True, demo_feishu=True, run_background=not args.web_only)
    try:
        _run(web, app, args, settings)
    except SchemaOutOfDate as e:
        print(f"cannot start: {e}", file=sys.stderr)
        return 2
    return 0


def _run(web, app, args, settings) -> None:
    web.run_app(app, host=args.host, port=args.port, access_log=None,
                print=lambda s: print(s + (f"\nsimulator: http://{args.host}:{args.port}/sim/"
                                           if settings.simulator_enabled else ""), flush=True))


async def _worker(settings) -> int:
    """Background work without HTTP: the same app resources, started and kept running."""
    from aiohttp import web

    from bot.app import create_app

    if not settings.redis.url:
        print("worker needs [redis] url: in-process state cannot be shared with a web process", file=sys.stderr)
        return 2
    # The same channels as `serve` (the simulator's demo ones included), so every inbox item has a processor.
    app = create_app(settings, demo_wecom=True, demo_feishu=True, metrics_listener=False)
    runner = web.AppRunner(app)
    await runner.setup()
    logging.getLogger("repairbot").info("worker ready")  # started: schema checked, configuration synced
    # SIGTERM (systemd's stop) and SIGINT end it in order: events in hand are finished, replies sent.
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stopping.set)
    try:
        await stopping.wait()
    finally:
        await runner.cleanup()
    return 0


async def _redrive(settings, inbox: list[str] | None, outbox: list[int] | None) -> int:
    """Put set-aside work back; the running service (or its workers) picks it up at once."""
    from aiohttp import web

    from bot.app import create_app
    from bot.runtime import redrive
    from bot.services import services_of

    if inbox is not None and outbox is None:
        outbox = []  # naming inbox items only re-drives those, not every dead outbox row
    if outbox is not None and inbox is None:
        inbox = []
    runner = web.AppRunner(create_app(settings, run_background=False))
    await runner.setup()
    try:
        done = await redrive(services_of(runner.app), inbox, outbox)
    finally:
        await runner.cleanup()
    print(f"re-driven: {len(done['inbox'])} inbox items, {len(done['outbox'])} outbox rows")
    return 0
