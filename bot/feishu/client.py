"""Async Feishu open-platform client on aiohttp: tenant token through bot.tokens, typed errors, timeouts."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp

from bot.apiclient import ApiSession

from bot.tokens import TokenCache

log = logging.getLogger(__name__)

# Tenant token missing (99991661), invalid (99991663) or expired/invalid (99991668): refetch once.
TOKEN_CODES = frozenset({99991661, 99991663, 99991668})
# Request frequency limit (99991400) and a chat's send limit (230020): retry later.
RATE_CODES = frozenset({99991400, 230020})
# The message cannot reach its recipient: bot not in the chat (230002), bot disabled / not activated
# (230006), user outside the app's visibility (230013), chat disbanded / not found (230001 is generic,
# so it is not here), message withdrawn or deleted (230011, 230110).
UNREACHABLE_CODES = frozenset({230002, 230006, 230013, 230011, 230110})
# Token endpoint: invalid app id / secret (10003, 10014): configuration, not luck.
CONFIG_CODES = frozenset({10003, 10014})


class FeishuError(Exception):
    """A code from Feishu (0 for a transport failure). `retryable`: trying later may succeed."""

    retryable = False

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(f"feishu code {code}: {message}" if code else message)
        self.code = code


class FeishuUnavailable(FeishuError):
    """Network failure, timeout, HTTP 5xx or a non-JSON answer."""

    retryable = True


class RateLimited(FeishuError):
    retryable = True


class TokenError(FeishuError):
    """No usable tenant token: wrong app id / secret, or a token refused again right after a refetch."""


class RecipientUnreachable(FeishuError):
    """Nobody will ever receive this: the bot left the chat, the user cannot see the app, the message is gone."""


def error_for(code: int, message: str) -> FeishuError:
    if code in RATE_CODES:
        return RateLimited(code, message)
    if code in UNREACHABLE_CODES:
        return RecipientUnreachable(code, message)
    if code in TOKEN_CODES:
        return TokenError(code, message)
    return FeishuError(code, message)


class FeishuClient(ApiSession):
    """One per app; holds one aiohttp session, closed by `close()`. `api_base` has no path prefix."""

    def __init__(self, *, api_base: str, app_id: str, app_secret: str, tokens: TokenCache,
                 timeout: float = 10.0) -> None:
        super().__init__(api_base, timeout)
        self.app_id = app_id
        self._secret = app_secret
        self.tokens = tokens
        self._bot_open_id: str | None = None

    @property
    def token_name(self) -> str:
        return f"feishu:{self.app_id}"

    # --- transport -------------------------------------------------------------------------------

    async def _request(self, method: str, path: str, *, token: str = "", params: dict[str, str] | None = None,
                       body: dict[str, Any] | None = None) -> tuple[int, bytes, str]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            async with self._http().request(method, self.api_base + path, params=params, data=data,
                                            headers=headers) as resp:
                return resp.status, await resp.read(), resp.headers.get("Content-Type", "")
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            raise FeishuUnavailable(0, f"{type(e).__name__} on {path}") from None

    @staticmethod
    def _json(status: int, content: bytes, path: str) -> dict[str, Any]:
        # Feishu answers errors with HTTP 4xx and a JSON body carrying the code: read the body first.
        try:
            data = json.loads(content)
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict) or "code" not in data:
            raise FeishuUnavailable(0, f"HTTP {status}, no JSON code from {path}")
        return data

    async def _fetch_token(self) -> tuple[str, int]:
        path = "/open-apis/auth/v3/tenant_access_token/internal"
        status, content, _ = await self._request("POST", path, body={"app_id": self.app_id,
                                                                      "app_secret": self._secret})
        data = self._json(status, content, path)
        code = int(data.get("code") or 0)
        if code in RATE_CODES:
            raise RateLimited(code, str(data.get("msg", "")))
        if code or not data.get("tenant_access_token"):
            err = TokenError(code, str(data.get("msg", "")))
            err.retryable = code not in CONFIG_CODES
            raise err
        return str(data["tenant_access_token"]), int(data.get("expire") or 7200)

    async def _call(self, method: str, path: str, *, params: dict[str, str] | None = None,
                    body: dict[str, Any] | None = None, raw: bool = False) -> tuple[dict[str, Any], bytes]:
        """One API call with the tenant token; a refused token is dropped and fetched again once."""
        refetched = False
        while True:
            token = await self.tokens.get(self.token_name, self._fetch_token)
            status, content, ctype = await self._request(method, path, token=token, params=params, body=body)
            if raw and status == 200 and "json" not in ctype.lower():
                return {}, content
            data = self._json(status, content, path)
            code = int(data.get("code") or 0)
            if code == 0 and status < 400:
                return data, content
            if code in TOKEN_CODES and not refetched:
                log.info("feishu token refused (%s) on %s; refetching once", code, path)
                await self.tokens.invalidate(self.token_name, token)
                refetched = True
                continue
            if code == 0:  # an HTTP error without a code
                raise FeishuUnavailable(0, f"HTTP {status} from {path}")
            # A server error or throttling carries a code too, but says nothing about the request: retry it.
            if status >= 500:
                raise FeishuUnavailable(code, f"HTTP {status}: {data.get('msg', '')}")
            if status == 429:
                raise RateLimited(code, str(data.get("msg", "")))
            raise error_for(code, str(data.get("msg", "")))

    # --- API ---------------------------------------------------------------------------------------

    async def send(self, receive_id_type: str, receive_id: str, msg_type: str, content: dict[str, Any],
                   uuid: str) -> str:
        """im/v1/messages; `uuid` makes the send idempotent for an hour. Returns the message_id."""
        data, _ = await self._call("POST", "/open-apis/im/v1/messages", params={"receive_id_type": receive_id_type},
                                   body={"receive_id": receive_id, "msg_type": msg_type,
                                         "content": json.dumps(content, ensure_ascii=False), "uuid": uuid})
        return str((data.get("data") or {}).get("message_id") or "")

    async def patch_card(self, message_id: str, card: dict[str, Any]) -> None:
        """Rewrite a sent card (it must have been sent with config.update_multi = true)."""
        await self._call("PATCH", f"/open-apis/im/v1/messages/{message_id}",
                         body={"content": json.dumps(card, ensure_ascii=False)})

    async def get_image(self, message_id: str, image_key: str) -> bytes:
        """A resident's image from their message (the resource endpoint; the images API only serves ours)."""
        _, content = await self._call("GET", f"/open-apis/im/v1/messages/{message_id}/resources/{image_key}",
                                      params={"type": "image"}, raw=True)
        return content

    async def bot_open_id(self) -> str | None:
        """Our bot's open_id (bot/v3/info), to tell a mention of the bot from a mention of a person."""
        if self._bot_open_id is None:
            data, _ = await self._call("GET", "/open-apis/bot/v3/info")
            self._bot_open_id = str((data.get("bot") or {}).get("open_id") or "")
        return self._bot_open_id or None
