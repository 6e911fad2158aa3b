"""What every platform's API client shares: one aiohttp session per client, calls carrying an access token
kept by bot.tokens (refetched once when refused, rate limits backed off), and errors classified by code."""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import aiohttp

if TYPE_CHECKING:
    from bot.tokens import TokenCache

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
# Builds a request's keyword arguments anew per attempt (a multipart body can be sent only once).
Form = Callable[[], dict[str, Any]]


def json_object(body: bytes) -> dict[str, Any] | None:
    """A platform's answer as a JSON object, or None when it is not one (HTML error page, truncation)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def is_json(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in ("application/json", "text/plain", "text/json")


class PlatformError(Exception):
    """A code from a platform (0: a transport failure). `retryable`: trying later may succeed."""

    label: ClassVar[str] = "code"
    retryable = False

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(f"{self.label} {code}: {message}" if code else message)
        self.code = code
        self.errmsg = message


Families = Sequence[tuple[frozenset[int], type[PlatformError]]]


def classify(code: int, message: str, families: Families, default: type[PlatformError]) -> PlatformError:
    """The error of the first family whose codes hold `code`, else `default`."""
    kind = next((k for codes, k in families if code in codes), default)
    return kind(code, message)


@dataclass(frozen=True)
class Answer:
    """One HTTP answer of a platform: its status, body, JSON object ({} for raw media) and code."""

    path: str
    status: int
    content: bytes
    content_type: str
    data: dict[str, Any]
    code: int = 0
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 0 and self.status < 400


class ApiSession:
    def __init__(self, api_base: str, timeout: float) -> None:
        self.api_base = api_base.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class TokenClient(ApiSession):
    """A platform client whose every call carries an access token from bot.tokens.

    A subclass names its codes, its error types and its token endpoint. By default (the WeChat family:
    WeCom, Official Account) the token travels in the query, codes in `errcode`/`errmsg`, and an error is
    JSON with HTTP 200; Feishu overrides `authorize` and `refusal` and answers errors with HTTP 4xx/5xx.
    """

    platform: ClassVar[str]                       # the log's word for it
    token_codes: ClassVar[frozenset[int]]        # the token was refused: fetch a new one, once
    rate_codes: ClassVar[frozenset[int]]         # back off `rate_retries` times, then give up
    config_codes: ClassVar[frozenset[int]] = frozenset()   # token endpoint: configuration, not luck
    families: ClassVar[Families] = ()            # code → error type, for `refusal`
    error: ClassVar[type[PlatformError]]         # any other code
    unavailable_error: ClassVar[type[PlatformError]]
    token_error: ClassVar[type[PlatformError]]
    code_field, message_field = "errcode", "errmsg"
    errors_in_body = False                       # HTTP 4xx/5xx answers still carry a JSON code
    token_method, token_path = "GET", ""
    token_field, expires_field = "access_token", "expires_in"
    max_body: int | None = None

    def __init__(self, api_base: str, *, secret: str, tokens: TokenCache, timeout: float = 10.0,
                 rate_retries: int = 0, backoff: float = 1.0, sleep: Sleep = asyncio.sleep) -> None:
        super().__init__(api_base, timeout)
        self._secret = secret
        self.tokens = tokens
        self.rate_retries = rate_retries
        self.backoff = backoff
        self._sleep = sleep

    @property
    def token_name(self) -> str:
        raise NotImplementedError

    def token_request(self) -> dict[str, Any]:
        """`params` or `payload` of the token endpoint's request."""
        raise NotImplementedError

    # --- transport -------------------------------------------------------------------------------

    def unavailable(self, message: str, *, retryable: bool = True) -> PlatformError:
        err = self.unavailable_error(0, message)
        if not retryable:
            err.retryable = False
        return err

    def authorize(self, token: str, params: dict[str, Any], headers: dict[str, str]) -> None:
        params["access_token"] = token

    async def _request(self, method: str, path: str, params: dict[str, Any], kwargs: dict[str, Any]
                       ) -> tuple[int, bytes, str]:
        try:
            async with self._http().request(method, self.api_base + path, params=params, **kwargs) as resp:
                if resp.status != 200 and not self.errors_in_body:
                    raise self.unavailable(f"HTTP {resp.status} from {path}")
                return resp.status, await self._read(resp, path), resp.headers.get("Content-Type", "")
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            # Never str(e): aiohttp's messages carry the URL, and the URL carries the token or secret.
            raise self.unavailable(f"{type(e).__name__} on {path}") from None

    async def _read(self, resp: aiohttp.ClientResponse, path: str) -> bytes:
        if self.max_body is None:
            return await resp.read()
        if resp.content_length and resp.content_length > self.max_body:
            raise self.unavailable(f"answer from {path} too large", retryable=False)
        body = await resp.content.read(self.max_body + 1)
        if len(body) > self.max_body:
            raise self.unavailable(f"answer from {path} too large", retryable=False)
        return body

    async def _exchange(self, method: str, path: str, *, token: str = "", params: dict[str, Any] | None = None,
                        payload: dict[str, Any] | None = None, form: Form | None = None,
                        raw: bool = False) -> Answer:
        params, headers = dict(params or {}), {}
        if token:
            self.authorize(token, params, headers)
        kwargs: dict[str, Any] = form() if form is not None else {}
        if payload is not None:
            kwargs["data"] = json.dumps(payload, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json; charset=utf-8"
        if headers:
            kwargs["headers"] = headers
        status, content, ctype = await self._request(method, path, params, kwargs)
        if raw and status == 200 and not is_json(ctype):
            return Answer(path, status, content, ctype, {})
        data = json_object(content)
        if data is None or (self.errors_in_body and self.code_field not in data):
            raise self.unavailable(f"HTTP {status}, no JSON {self.code_field} from {path}")
        return Answer(path, status, content, ctype, data, int(data.get(self.code_field) or 0),
                      str(data.get(self.message_field) or ""))

    # --- the token and the call ----------------------------------------------------------------------

    async def _fetch_token(self) -> tuple[str, int]:
        request = self.token_request()
        answer = await self._exchange(self.token_method, self.token_path, **request)
        token = answer.data.get(self.token_field)
        if answer.code or not token:
            raise self.token_refusal(answer)
        return str(token), int(answer.data.get(self.expires_field) or 7200)

    def token_refusal(self, answer: Answer) -> PlatformError:
        if answer.code in self.rate_codes:
            return self.refusal(answer)
        err = self.token_error(answer.code, answer.message)
        err.retryable = answer.code not in self.config_codes
        return err

    def refusal(self, answer: Answer) -> PlatformError:
        """The error for an answer that neither a new token nor a pause will fix."""
        return classify(answer.code, answer.message, self.families, self.error)

    async def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                    payload: dict[str, Any] | None = None, form: Form | None = None, raw: bool = False) -> Answer:
        """One API call: refetch the token once when it is refused, back off on rate limits."""
        refetched = False
        rate_tries = 0
        while True:
            token = await self.tokens.get(self.token_name, self._fetch_token)
            answer = await self._exchange(method, path, token=token, params=params, payload=payload, form=form,
                                          raw=raw)
            if answer.ok:
                return answer
            if answer.code in self.token_codes and not refetched:
                log.info("%s token refused (%s) on %s; refetching once", self.platform, answer.code, path)
                await self.tokens.invalidate(self.token_name, token)
                refetched = True
                continue
            if answer.code in self.rate_codes and rate_tries < self.rate_retries:
                await self._sleep(self.backoff * 2 ** rate_tries)
                rate_tries += 1
                continue
            raise self.refusal(answer)
