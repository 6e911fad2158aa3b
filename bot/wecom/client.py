"""Async WeCom API client on aiohttp: token through bot.tokens, one refetch on a bad token, bounded back-off."""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from bot.apiclient import ApiSession, json_object

from bot.tokens import TokenCache
from bot.wecom.errors import (CONFIG_CODES, RATE_CODES, TOKEN_CODES, RecipientUnreachable, TokenError,
                              WecomError, WecomUnavailable, error_for)

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
# Builds the request's keyword arguments anew per attempt (a multipart body can be sent only once).
Body = Callable[[], dict[str, Any]]


class WecomClient(ApiSession):
    """One per app (corp id + agent); holds one aiohttp session, closed by `close()`."""

    def __init__(self, *, api_base: str, corp_id: str, secret: str, agent_id: int, tokens: TokenCache,
                 timeout: float = 10.0, rate_retries: int = 2, backoff: float = 1.0,
                 sleep: Sleep = asyncio.sleep) -> None:
        super().__init__(api_base, timeout)
        self.corp_id = corp_id
        self.agent_id = agent_id
        self._secret = secret
        self.tokens = tokens
        self.rate_retries = rate_retries
        self.backoff = backoff
        self._sleep = sleep

    @property
    def token_name(self) -> str:
        # A token belongs to one app's secret: two agents of one corp have two tokens.
        return f"wecom:{self.corp_id}:{self.agent_id}"

    # --- transport -------------------------------------------------------------------------------

    async def _request(self, method: str, path: str, params: dict[str, Any], kwargs: dict[str, Any]
                       ) -> tuple[bytes, str]:
        try:
            async with self._http().request(method, self.api_base + path, params=params, **kwargs) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise WecomUnavailable(0, f"HTTP {resp.status} from {path}")
                return body, resp.headers.get("Content-Type", "")
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            # Never str(e): aiohttp's messages carry the URL, and the URL carries the token or secret.
            raise WecomUnavailable(0, f"{type(e).__name__} on {path}") from None

    @staticmethod
    def _json(body: bytes, path: str) -> dict[str, Any]:
        data = json_object(body)
        if data is None:
            raise WecomUnavailable(0, f"non-JSON answer from {path}")
        return data

    async def _fetch_token(self) -> tuple[str, int]:
        body, _ = await self._request("GET", "/cgi-bin/gettoken",
                                      {"corpid": self.corp_id, "corpsecret": self._secret}, {})
        data = self._json(body, "/cgi-bin/gettoken")
        code = int(data.get("errcode", 0) or 0)
        if code in RATE_CODES:
            raise error_for(code, data.get("errmsg", ""))
        if code or not data.get("access_token"):
            err = TokenError(code, data.get("errmsg", ""))
            err.retryable = code not in CONFIG_CODES
            raise err
        return data["access_token"], int(data.get("expires_in", 7200))

    async def _call(self, method: str, path: str, body: Body, *, raw: bool = False,
                    params: dict[str, Any] | None = None) -> tuple[dict[str, Any], bytes, str]:
        """One API call: refetch the token once on 40001/40014/42001, back off on rate limits."""
        refetched = False
        rate_tries = 0
        while True:
            token = await self.tokens.get(self.token_name, self._fetch_token)
            content, ctype = await self._request(method, path, {**(params or {}), "access_token": token}, body())
            if raw and not _is_json(ctype):
                return {}, content, ctype
            data = self._json(content, path)
            code = int(data.get("errcode", 0) or 0)
            if code == 0:
                return data, content, ctype
            if code in TOKEN_CODES and not refetched:
                log.info("wecom token refused (%s) on %s; refetching once", code, path)
                await self.tokens.invalidate(self.token_name, token)
                refetched = True
                continue
            if code in RATE_CODES and rate_tries < self.rate_retries:
                await self._sleep(self.backoff * 2 ** rate_tries)
                rate_tries += 1
                continue
            raise error_for(code, str(data.get("errmsg", "")))

    async def _post_json(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(payload, ensure_ascii=False).encode()
        body = {"data": data, "headers": {"Content-Type": "application/json; charset=utf-8"}}
        result, _, _ = await self._call("POST", path, lambda: dict(body))
        return result

    # --- API ---------------------------------------------------------------------------------------

    async def send_message(self, payload: dict[str, Any]) -> dict[str, Any]:
        """message/send (text, markdown, template_card). Returns WeCom's JSON: msgid, response_code."""
        payload = {"agentid": self.agent_id, **payload}
        result = await self._post_json("/cgi-bin/message/send", payload)
        # Partial failure comes back as errcode 0 with the refused ids; one recipient refused is a failure.
        refused = {u.lower() for u in str(result.get("invaliduser") or "").split("|") if u}
        targets = {u.lower() for u in str(payload.get("touser") or "").split("|") if u}
        if targets and targets <= refused:
            raise RecipientUnreachable(81013, "invaliduser")
        return result

    async def update_template_card(self, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._post_json("/cgi-bin/message/update_template_card",
                                     {"agentid": self.agent_id, **payload})

    async def appchat_create(self, name: str, owner: str, userlist: list[str], chatid: str = "") -> str:
        payload: dict[str, Any] = {"name": name, "owner": owner, "userlist": userlist}
        if chatid:
            payload["chatid"] = chatid
        return str((await self._post_json("/cgi-bin/appchat/create", payload))["chatid"])

    async def appchat_send(self, payload: dict[str, Any]) -> dict[str, Any]:
        return await self._post_json("/cgi-bin/appchat/send", payload)

    async def media_get(self, media_id: str) -> tuple[bytes, str]:
        """The media's bytes and Content-Type; an error arrives as JSON with HTTP 200 and is raised."""
        _, content, ctype = await self._call("GET", "/cgi-bin/media/get", lambda: {}, raw=True,
                                             params={"media_id": media_id})
        return content, ctype.split(";", 1)[0].strip() or "application/octet-stream"

    async def media_upload(self, type_: str, filename: str, data: bytes,
                           content_type: str = "application/octet-stream") -> str:
        """media/upload (multipart field `media`); returns the temporary media_id (valid 3 days)."""
        def body() -> dict[str, Any]:
            form = aiohttp.FormData()
            form.add_field("media", data, filename=filename, content_type=content_type)
            return {"data": form}
        result, _, _ = await self._call("POST", "/cgi-bin/media/upload", body, params={"type": type_})
        return str(result["media_id"])


def _is_json(content_type: str) -> bool:
    ctype = content_type.split(";", 1)[0].strip().lower()
    return ctype in ("application/json", "text/plain", "text/json")


__all__ = ["WecomClient", "WecomError"]
