"""`repairbot passwd WHO [--password-stdin]`: set the console password of a member of `[[staff]]`."""
from __future__ import annotations

import argparse
import asyncio
import getpass
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("passwd", help="set a console password (/admin/) for a person of [[staff]]")
    p.add_argument("who", metavar="WHO", help="their phone or one of their platform user ids (the console username)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    p.add_argument("--config")


def run(settings, args: argparse.Namespace) -> int:
    from bot.console.passwords import MAX_LENGTH, MIN_LENGTH, acceptable

    password = _read(args.password_stdin)
    if password is None:
        return 2
    if not acceptable(password):
        print(f"a console password has {MIN_LENGTH} to {MAX_LENGTH} printable characters, no spaces at either end",
              file=sys.stderr)
        return 2
    return asyncio.run(_set(settings, args.who, password))


def _read(from_stdin: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        print("no terminal to ask for the password: use --password-stdin", file=sys.stderr)
        return None
    first = getpass.getpass("new console password: ")
    if getpass.getpass("again: ") != first:
        print("the two passwords differ; nothing changed", file=sys.stderr)
        return None
    return first


async def _set(settings, who: str, password: str) -> int:
    """Through the service's own start-up (bot/app.py), so the staff are those it serves — the configuration's,
    or with none the simulator's demo cast — and the schema is checked (SQLite migrated) as `serve` does."""
    from aiohttp import web

    from bot.app import SchemaOutOfDate, create_app
    from bot.console.passwords import hash_password, set_password
    from bot.console.staff import staff_named
    from bot.services import services_of

    runner = web.AppRunner(create_app(settings, run_background=False, metrics_listener=False))
    try:
        await runner.setup()
    except SchemaOutOfDate as e:
        print(f"cannot set a password: {e}", file=sys.stderr)
        return 2
    try:
        services = services_of(runner.app)
        async with services.sessions() as session, session.begin():
            people = await staff_named(session, who)
            if len(people) != 1:
                print(f"{who!r} names {'nobody' if not people else 'several people'} of [[staff]]: give a phone or "
                      "platform user id that is one member of staff's alone", file=sys.stderr)
                return 1
            person = people[0]
            await set_password(session, person.id, await hash_password(password), services.clock.now())
    finally:
        await runner.cleanup()
    print(f"console password set for {person.name} ({person.role}); their sessions opened before now are ended")
    return 0
