"""A fake Official Account API (token, custom/send with the 48 h rule, media/get) for tests and the simulator."""
from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from bot.sim.fake_api import FakeWechatApi, route
from store.clock import Clock

WINDOW = timedelta(hours=48)
SEND_PATH = "/cgi-bin/message/custom/send"


class FakeMp(FakeWechatApi):
    """The platform's side: one valid token at a time, when each user last wrote, what was sent.

    Routes: cgi-bin/token, message/custom/send, media/get; `_sent`, `_faults` (see bot/sim/fake_api.py) and
    `_wrote` ({"openid": …, "at": iso time or absent}) to inspect and steer it.
    """

    PREFIX = "/sim/mp"
    KEY: web.AppKey[FakeMp] = web.AppKey("fake_wechat_mp")
    NAME = "wechat_mp"
    INVALID_TOKEN, TOKEN_EXPIRED = 40001, 42001
    BAD_JSON = (47001, "data format error")
    ONE_TOKEN = True   # like the real platform: a new token makes the previous one invalid at once

    def __init__(self, clock: Clock | None = None, app_id: str = "wx-test-app", secret: str = "mp-secret",
                 token_ttl: int = 7200) -> None:
        super().__init__(clock or Clock(), token_ttl)
        self.app_id = app_id
        self.secret = secret
        self.last_wrote: dict[str, datetime] = {}

    @property
    def send_attempts(self) -> int:
        """Calls of custom/send, refused ones included."""
        return sum(1 for path, _ in self.calls if path.endswith(SEND_PATH))

    def user_wrote(self, openid: str, at: datetime | None = None) -> None:
        """The user sent the account a message at `at` (now by default): the 48 h window opens."""
        self.last_wrote[openid] = at or self.clock.now()

    @route("GET", "/cgi-bin/token", "token")
    async def token(self, request: web.Request) -> web.Response:
        self.refuse_credentials(request.query, [("grant_type", "client_credential", 40002, "invalid grant_type"),
                                                ("appid", self.app_id, 40013, "invalid appid"),
                                                ("secret", self.secret, 40125, "invalid appsecret")])
        # The real answer carries no errcode when it succeeds.
        return web.json_response({"access_token": self.issue_token("mp-"), "expires_in": self.token_ttl})

    @route("POST", SEND_PATH)
    async def custom_send(self, request: web.Request) -> web.Response:
        body = await self.json_body(request)
        wrote = self.last_wrote.get(body.get("touser", ""))
        if wrote is None or self.clock.now() - wrote > WINDOW:
            return self.err(45015, "response out of time limit or subscription is canceled")
        self.record(**body)
        return self.ok()


    @route("POST", "/_wrote", "steer")
    async def wrote_route(self, request: web.Request) -> web.Response:
        data = await request.json()
        self.user_wrote(str(data["openid"]), datetime.fromisoformat(data["at"]) if data.get("at") else None)
        return web.json_response({"ok": True})


FAKE_MP = FakeMp.KEY


def setup_fake_mp(app: web.Application, prefix: str = FakeMp.PREFIX, *, clock: Clock | None = None,
                  app_id: str = "wx-test-app", secret: str = "mp-secret") -> FakeMp:
    """FakeMp.mount, by its older name."""
    return FakeMp.mount(app, prefix, clock=clock, app_id=app_id, secret=secret)
