"""What the simulator's fake platform APIs share: tokens, the JSON envelope, the sent log, faults, mounting."""
from __future__ import annotations

import asyncio
import json
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, Self

from aiohttp import web

from bot.sim.bounded import BLOBS, NewestDict, NewestList
from store.clock import Clock

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refused(Exception):
    """A handler's refusal of a call: answered as the platform's error envelope with `code`."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def dumps(o: Any) -> str:
    return json.dumps(o, ensure_ascii=False)


def route(method: str, path: str, kind: str = "api") -> Callable[[Handler], Handler]:
    """Marks a fake's method as the handler of `method path` below its prefix. `kind`: "api" (a platform
    call, through `FakeApi.api`), "token" (the token endpoint, through `token_endpoint`), or "steer"
    (the simulator's and tests' own endpoints, as they are)."""
    def mark(handler: Handler) -> Handler:
        handler.route = (method, path, kind)  # type: ignore[attr-defined]
        return handler
    return mark


class FakeApi:
    """One fake platform: subclasses name their codes and routes; this class runs every call through the
    same steps (hold, outage, injected fault, token, handler) and records each in `calls`.

    Steering, the same on every fake: `fail_next`, `outage`, `hold`, `expire_tokens`; `sent` is what the
    service sent (the newest, bot/sim/bounded.py), `sent_to` filters it.
    """

    PREFIX: ClassVar[str]               # default mount point, e.g. /sim/wecom
    KEY: ClassVar[web.AppKey[Any]]      # where the mounted fake is kept on the app
    CODE, MESSAGE = "errcode", "errmsg"  # the envelope's field names
    NAME: ClassVar[str] = "fake"        # in default error messages
    INVALID_TOKEN: ClassVar[int]
    TOKEN_EXPIRED: ClassVar[int]
    NO_TOKEN: ClassVar[int | None] = None   # a call without any token; None: INVALID_TOKEN
    BAD_JSON: ClassVar[tuple[int, str]]     # the answer to a body that is not a JSON object
    OK_MESSAGE = "ok"
    ONE_TOKEN = False                       # issuing a token voids the previous one (Official Account)

    def __init__(self, clock: Clock, token_ttl: int = 7200) -> None:
        self.clock = clock
        self.token_ttl = token_ttl
        # Everything it keeps is bounded (bot/sim/bounded.py): the newest entries of each.
        self.sent: list[dict[str, Any]] = NewestList()
        self.calls: list[tuple[str, int]] = NewestList()     # (path, code) of every API call
        self.tokens: dict[str, float] = NewestDict()           # token → expiry (epoch seconds)
        self.token_calls = 0
        self.tokens_issued = 0
        self.faults: deque[int] = deque()
        self.outage_until: datetime | None = None
        self.outage_errcode = 0                   # 0: HTTP 500, else this code (45009, -1, …)
        self.hold: asyncio.Event | None = None    # set: API calls wait for it (a platform that hangs)
        self._seq = 0

    # --- mounting ----------------------------------------------------------------------------------

    @classmethod
    def mount(cls, app: web.Application, prefix: str | None = None, **kwargs: Any) -> Self:
        """A fake built from `kwargs`, kept at `app[cls.KEY]`, its routes under `prefix` (point the
        platform's api_base at `<server>{prefix}`)."""
        fake = cls(**kwargs)
        app[cls.KEY] = fake
        p = (cls.PREFIX if prefix is None else prefix).rstrip("/")
        for method, path, handler in fake.routes():
            if method == "GET":
                app.router.add_get(p + path, handler)  # with HEAD, as before
            else:
                app.router.add_route(method, p + path, handler)
        return fake

    def routes(self) -> list[tuple[str, str, Handler]]:
        """(method, path, handler) below the prefix, of every method marked with `route`."""
        wrap = {"api": self.api, "token": self.token_endpoint, "steer": lambda h: h}
        found = []
        for name in dir(type(self)):
            method, path, kind = getattr(getattr(type(self), name), "route", (None, None, None))
            if method is not None:
                found.append((method, path, wrap[kind](getattr(self, name))))
        return found

    # --- steering (tests, simulator) --------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every issued token now answers as expired."""
        now = self.clock.now().timestamp()
        for t, exp in self.tokens.items():
            self.tokens[t] = min(exp, now)

    def fail_next(self, code: int, count: int = 1) -> None:
        """The next `count` API calls (not the token endpoint) answer `code`."""
        self.faults.extend([code] * count)

    def outage(self, seconds: float, errcode: int = 0) -> None:
        """Every call, the token endpoint included, fails for `seconds` of the clock: HTTP 500, or `errcode`."""
        self.outage_until = self.clock.now() + timedelta(seconds=seconds)
        self.outage_errcode = errcode

    def sent_to(self, user: str | None = None) -> list[dict[str, Any]]:
        return [s for s in self.sent if user is None or self.recipient(s) == user]

    def recipient(self, entry: dict[str, Any]) -> str:
        return str(entry.get("touser", ""))

    # --- the envelope --------------------------------------------------------------------------------

    def status_for(self, code: int) -> int:
        return 200  # the WeChat family answers errors with HTTP 200

    def err(self, code: int, message: str = "", **data: Any) -> web.Response:
        return web.json_response({self.CODE: code, self.MESSAGE: message or f"fake {self.NAME} error {code}",
                                  **data}, status=self.status_for(code), dumps=dumps)

    def ok(self, **data: Any) -> web.Response:
        return web.json_response({self.CODE: 0, self.MESSAGE: self.OK_MESSAGE, **data}, dumps=dumps)

    async def json_body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            raise Refused(*self.BAD_JSON) from None
        if not isinstance(body, dict):
            raise Refused(*self.BAD_JSON)
        return body

    def record(self, **entry: Any) -> dict[str, Any]:
        """Log one thing the service sent, with a sequence number and the clock's time."""
        self._seq += 1
        entry = {"id": self._seq, **entry, "at": self.clock.now().isoformat()}
        self.sent.append(entry)
        return entry

    # --- tokens ----------------------------------------------------------------------------------------

    def issue_token(self, prefix: str = "") -> str:
        self.tokens_issued += 1
        if self.ONE_TOKEN:
            self.tokens.clear()
        token = prefix + secrets.token_urlsafe(24)
        self.tokens[token] = self.clock.now().timestamp() + self.token_ttl
        return token

    def token_error(self, token: str) -> int:
        if not token:
            return self.INVALID_TOKEN if self.NO_TOKEN is None else self.NO_TOKEN
        exp = self.tokens.get(token)
        if exp is None:
            return self.INVALID_TOKEN
        if exp <= self.clock.now().timestamp():
            return self.TOKEN_EXPIRED
        return 0

    def presented_token(self, request: web.Request) -> str:
        return request.query.get("access_token", "")

    def refuse_credentials(self, given: Mapping[str, Any], checks: list[tuple[str, str, int, str]]) -> None:
        """Raise Refused for the first (field, expected, code, message) that `given` does not match."""
        for name, expected, code, message in checks:
            if not secrets.compare_digest(str(given.get(name, "")), expected):
                raise Refused(code, message)

    # --- the wrappers ----------------------------------------------------------------------------------

    def _outage_answer(self) -> web.Response | None:
        if self.outage_until is None or self.clock.now() >= self.outage_until:
            return None
        if self.outage_errcode:
            return self.err(self.outage_errcode,
                            "api freq out of limit" if self.outage_errcode == 45009 else "")
        return web.Response(status=500, text=f"fake {self.NAME}: internal error")

    def token_endpoint(self, handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            self.token_calls += 1
            if (down := self._outage_answer()) is not None:
                return down
            try:
                return await handler(request)
            except Refused as e:
                return self.err(e.code, e.message)
        return wrapped

    def api(self, handler: Handler) -> Handler:
        """An API call: waits while held, fails in an outage or an injected fault, then checks the token."""
        async def wrapped(request: web.Request) -> web.StreamResponse:
            if self.hold is not None:
                await self.hold.wait()
            if (down := self._outage_answer()) is not None:
                self.calls.append((request.path, self.outage_errcode or 500))
                return down
            # An injected fault answers whatever else holds, an expired token included.
            code = self.faults.popleft() if self.faults else self.token_error(self.presented_token(request))
            if code:
                resp: web.StreamResponse = self.err(code)
            else:
                try:
                    resp = await handler(request)
                except Refused as e:
                    resp = self.err(e.code, e.message)
            self.calls.append((request.path, self._code_of(resp)))
            return resp
        return wrapped

    def _code_of(self, resp: web.StreamResponse) -> int:
        if isinstance(resp, web.Response) and resp.content_type == "application/json" and resp.body:
            return int(json.loads(resp.body).get(self.CODE, 0) or 0)
        return 0

    # --- steering routes ---------------------------------------------------------------------------------

    @route("GET", "/_sent", "steer")
    async def sent_route(self, request: web.Request) -> web.Response:
        """GET _sent: what was sent, in order, filtered by the query (see `listing`)."""
        return web.json_response({"sent": self.listing(request.query)}, dumps=dumps)

    def listing(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        return self.sent_to(query.get("user") or None)

    @route("POST", "/_faults", "steer")
    async def faults_route(self, request: web.Request) -> web.Response:
        """POST _faults: {"expire_tokens": true}, {"<code field>": N, "count": K}, or
        {"outage_seconds": S, "<code field>": N} (N 0 or absent: HTTP 500)."""
        body = await request.json()
        if body.get("expire_tokens"):
            self.expire_tokens()
        if body.get("outage_seconds"):
            self.outage(float(body["outage_seconds"]), int(body.get(self.CODE, 0)))
        elif body.get(self.CODE):
            self.fail_next(int(body[self.CODE]), int(body.get("count", 1)))
        return self.ok()


class FakeWechatApi(FakeApi):
    """The WeChat family (WeCom app, WeCom kf, Official Account): media/get of stored media (photos, voice)."""

    INVALID_MEDIA = 40007

    def __init__(self, clock: Clock, token_ttl: int = 7200) -> None:
        super().__init__(clock, token_ttl)
        self.media: dict[str, tuple[bytes, str]] = NewestDict(BLOBS)

    def add_media(self, data: bytes, content_type: str = "image/jpeg") -> str:
        media_id = "MEDIA" + secrets.token_hex(16)
        self.media[media_id] = (data, content_type)
        return media_id

    def add_voice(self, data: bytes, content_type: str = "audio/amr") -> str:
        """A person's voice note as the platform holds it (AMR, served as audio/amr by media/get)."""
        return self.add_media(data, content_type)

    @route("GET", "/cgi-bin/media/get")
    async def media_get(self, request: web.Request) -> web.Response:
        found = self.media.get(request.query.get("media_id", ""))
        if found is None:
            raise Refused(self.INVALID_MEDIA, "invalid media_id")  # JSON with HTTP 200, as the platform does
        data, ctype = found
        return web.Response(body=data, content_type=ctype)
