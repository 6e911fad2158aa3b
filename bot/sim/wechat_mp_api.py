"""A fake Official Account API (token, custom/send with the 48 h rule, media/get) for tests and the simulator."""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.sim.bounded import NewestList
from store.clock import Clock

WINDOW = timedelta(hours=48)


@dataclass
class FakeMp:
    """The platform's side: which token is valid, when each user last wrote, what was sent."""

    clock: Clock
    app_id: str = "wx-test-app"
    secret: str = "mp-secret"
    token_ttl: int = 7200
    token: str = ""
    token_expires: datetime | None = None
    tokens_issued: int = 0
    send_attempts: int = 0
    last_wrote: dict[str, datetime] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=NewestList)   # the newest (bot/sim/bounded.py)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    # errcodes the next calls of custom/send answer with, whatever else holds (tests inject failures)
    send_failures: list[int] = field(default_factory=list)

    def user_wrote(self, openid: str, at: datetime | None = None) -> None:
        """The user sent the account a message at `at` (now by default): the 48 h window opens."""
        self.last_wrote[openid] = at or self.clock.now()

    def issue_token(self) -> str:
        # Like the real platform: a new token makes the previous one invalid at once.
        self.tokens_issued += 1
        self.token = f"mp-{self.tokens_issued}-{secrets.token_hex(6)}"
        self.token_expires = self.clock.now() + timedelta(seconds=self.token_ttl)
        return self.token

    def token_error(self, token: str) -> int:
        if not token or not self.token or not secrets.compare_digest(token, self.token):
            return 40001
        if self.token_expires is not None and self.clock.now() >= self.token_expires:
            return 42001
        return 0


FAKE_MP: web.AppKey[FakeMp] = web.AppKey("fake_wechat_mp", FakeMp)


def _err(code: int, msg: str) -> web.Response:
    return web.json_response({"errcode": code, "errmsg": msg})


def setup_fake_mp(app: web.Application, prefix: str = "/sim/mp", *, clock: Clock | None = None,
                  app_id: str = "wx-test-app", secret: str = "mp-secret") -> FakeMp:
    """Mount the fake under `prefix` (the service's api_base is then http://host:port<prefix>)."""
    fake = FakeMp(clock or Clock(), app_id=app_id, secret=secret)
    app[FAKE_MP] = fake

    async def token(request: web.Request) -> web.Response:
        q = request.query
        if q.get("grant_type") != "client_credential":
            return _err(40002, "invalid grant_type")
        if q.get("appid") != fake.app_id:
            return _err(40013, "invalid appid")
        if not secrets.compare_digest(q.get("secret", ""), fake.secret):
            return _err(40125, "invalid appsecret")
        return web.json_response({"access_token": fake.issue_token(), "expires_in": fake.token_ttl})

    async def custom_send(request: web.Request) -> web.Response:
        fake.send_attempts += 1
        code = fake.token_error(request.query.get("access_token", ""))
        if code:
            return _err(code, "invalid credential" if code == 40001 else "access_token expired")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _err(47001, "data format error")
        if fake.send_failures:
            return _err(fake.send_failures.pop(0), "injected failure")
        touser = body.get("touser", "")
        wrote = fake.last_wrote.get(touser)
        if wrote is None or fake.clock.now() - wrote > WINDOW:
            return _err(45015, "response out of time limit or subscription is canceled")
        fake.sent.append({**body, "at": fake.clock.now().isoformat()})
        return _err(0, "ok")

    async def media_get(request: web.Request) -> web.Response:
        code = fake.token_error(request.query.get("access_token", ""))
        if code:
            return _err(code, "invalid credential")
        found = fake.media.get(request.query.get("media_id", ""))
        if found is None:
            return _err(40007, "invalid media_id")  # an error is JSON with HTTP 200, like the real one
        data, ctype = found
        return web.Response(body=data, content_type=ctype)

    async def sent(request: web.Request) -> web.Response:
        return web.json_response(fake.sent, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    async def wrote(request: web.Request) -> web.Response:
        data = await request.json()
        at = datetime.fromisoformat(data["at"]) if data.get("at") else None
        fake.user_wrote(str(data["openid"]), at)
        return web.json_response({"ok": True})

    app.router.add_get(f"{prefix}/cgi-bin/token", token)
    app.router.add_post(f"{prefix}/cgi-bin/message/custom/send", custom_send)
    app.router.add_get(f"{prefix}/cgi-bin/media/get", media_get)
    app.router.add_get(f"{prefix}/_sent", sent)
    app.router.add_post(f"{prefix}/_wrote", wrote)
    return fake
