"""Async Official Account API on aiohttp: customer-service messages, media download, one shared token."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp

from bot.apiclient import ApiSession, json_object

from bot.tokens import TokenCache

log = logging.getLogger(__name__)

# invalid credential (40001), invalid token (40014), expired token (42001): refetch once, then fail.
TOKEN_CODES = frozenset({40001, 40014, 42001})
# system busy (-1), API quota (45009), reply limit (45047): worth another try later.
RETRY_CODES = frozenset({-1, 45009, 45047})
OUT_OF_WINDOW = 45015     # more than 48 h since the user wrote, or they unfollowed
MAX_MEDIA = 20 * 1024 * 1024


class MpError(Exception):
    """An errcode from the Official Account API (code 0: transport failure). `retryable`: try later."""

    def __init__(self, code: int, message: str = "", *, retryable: bool | None = None) -> None:
        super().__init__(f"wechat_mp errcode {code}: {message}" if code else message)
        self.code = code
        self.retryable = (code == 0 or code in RETRY_CODES) if retryable is None else retryable


class MpClient(ApiSession):
    """One per Official Account; holds one aiohttp session, closed by `close()`."""

    def __init__(self, *, api_base: str, app_id: str, secret: str, tokens: TokenCache,
                 timeout: float = 10.0) -> None:
        super().__init__(api_base, timeout)
        self.app_id = app_id
        self._secret = secret
        self.tokens = tokens

    @property
    def token_name(self) -> str:
        return f"wechat_mp:{self.app_id}"

    async def _request(self, method: str, path: str, params: dict[str, Any], payload: dict | None
                       ) -> tuple[bytes, str]:
        kwargs: dict[str, Any] = {}
        if payload is not None:
            kwargs = {"data": json.dumps(payload, ensure_ascii=False).encode(),
                      "headers": {"Content-Type": "application/json; charset=utf-8"}}
        try:
            async with self._http().request(method, self.api_base + path, params=params, **kwargs) as resp:
                if resp.status != 200:
                    raise MpError(0, f"HTTP {resp.status} from {path}")
                if resp.content_length and resp.content_length > MAX_MEDIA:
                    raise MpError(0, f"answer from {path} too large", retryable=False)
                body = await resp.content.read(MAX_MEDIA + 1)
                if len(body) > MAX_MEDIA:
                    raise MpError(0, f"answer from {path} too large", retryable=False)
                return body, resp.headers.get("Content-Type", "")
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            # Never str(e): aiohttp's messages carry the URL, and the URL carries the token or secret.
            raise MpError(0, f"{type(e).__name__} on {path}") from None

    @staticmethod
    def _json(body: bytes, path: str) -> dict[str, Any]:
        data = json_object(body)
        if data is None:
            raise MpError(0, f"non-JSON answer from {path}")
        return data

    async def _fetch_token(self) -> tuple[str, int]:
        # Every fetch invalidates the account's previous token: only the locked shared cache calls this.
        body, _ = await self._request("GET", "/cgi-bin/token", {
            "grant_type": "client_credential", "appid": self.app_id, "secret": self._secret}, None)
        data = self._json(body, "/cgi-bin/token")
        code = int(data.get("errcode", 0) or 0)
        if code or not data.get("access_token"):
            # A bad appid/secret or an IP not on the whitelist will not fix itself.
            raise MpError(code, str(data.get("errmsg", "")), retryable=code in RETRY_CODES)
        return str(data["access_token"]), int(data.get("expires_in", 7200))

    async def _call(self, method: str, path: str, *, payload: dict | None = None,
                    params: dict[str, Any] | None = None, raw: bool = False) -> tuple[dict[str, Any], bytes, str]:
        refetched = False
        while True:
            token = await self.tokens.get(self.token_name, self._fetch_token)
            content, ctype = await self._request(method, path, {**(params or {}), "access_token": token}, payload)
            if raw and not _is_json(ctype):
                return {}, content, ctype
            data = self._json(content, path)
            code = int(data.get("errcode", 0) or 0)
            if code == 0:
                return data, content, ctype
            if code in TOKEN_CODES and not refetched:
                log.info("wechat_mp token refused (%s) on %s; refetching once", code, path)
                await self.tokens.invalidate(self.token_name, token)
                refetched = True
                continue
            raise MpError(code, str(data.get("errmsg", "")))

    async def send_custom(self, payload: dict[str, Any]) -> dict[str, Any]:
        """message/custom/send; allowed within 48 h of the user's last message (45015 after)."""
        data, _, _ = await self._call("POST", "/cgi-bin/message/custom/send", payload=payload)
        return data

    async def get_media(self, media_id: str) -> tuple[bytes, str]:
        """Temporary media's bytes and Content-Type; an error arrives as JSON with HTTP 200 and is raised."""
        _, content, ctype = await self._call("GET", "/cgi-bin/media/get", params={"media_id": media_id}, raw=True)
        return content, ctype.split(";", 1)[0].strip() or "application/octet-stream"


def _is_json(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in ("application/json", "text/plain", "text/json")
