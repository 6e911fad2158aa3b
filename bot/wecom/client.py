"""Async WeCom API client on aiohttp: token through bot.tokens, one refetch on a bad token, bounded back-off."""
from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from bot.apiclient import Sleep, TokenClient
from bot.tokens import TokenCache
from bot.wecom.errors import (CONFIG_CODES, FAMILIES, RATE_CODES, TOKEN_CODES, InvalidArgument,
                              RecipientUnreachable, TokenError, WecomError, WecomUnavailable)


class WecomClient(TokenClient):
    """One per app (corp id + agent); holds one aiohttp session, closed by `close()`."""

    platform = "wecom"
    token_codes, rate_codes, config_codes, families = TOKEN_CODES, RATE_CODES, CONFIG_CODES, FAMILIES
    error, unavailable_error, token_error = InvalidArgument, WecomUnavailable, TokenError
    token_path = "/cgi-bin/gettoken"

    def __init__(self, *, api_base: str, corp_id: str, secret: str, agent_id: int, tokens: TokenCache,
                 timeout: float = 10.0, rate_retries: int = 2, backoff: float = 1.0,
                 sleep: Sleep = asyncio.sleep) -> None:
        super().__init__(api_base, secret=secret, tokens=tokens, timeout=timeout, rate_retries=rate_retries,
                         backoff=backoff, sleep=sleep)
        self.corp_id = corp_id
        self.agent_id = agent_id

    @property
    def token_name(self) -> str:
        # A token belongs to one app's secret: two agents of one corp have two tokens.
        return f"wecom:{self.corp_id}:{self.agent_id}"

    def token_request(self) -> dict[str, Any]:
        return {"params": {"corpid": self.corp_id, "corpsecret": self._secret}}

    async def _post_json(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        return (await self._call("POST", path, payload=payload)).data

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
        answer = await self._call("GET", "/cgi-bin/media/get", params={"media_id": media_id}, raw=True)
        return answer.content, answer.content_type.split(";", 1)[0].strip() or "application/octet-stream"

    async def media_upload(self, type_: str, filename: str, data: bytes,
                           content_type: str = "application/octet-stream") -> str:
        """media/upload (multipart field `media`); returns the temporary media_id (valid 3 days)."""
        def form() -> dict[str, Any]:
            body = aiohttp.FormData()
            body.add_field("media", data, filename=filename, content_type=content_type)
            return {"data": body}
        answer = await self._call("POST", "/cgi-bin/media/upload", form=form, params={"type": type_})
        return str(answer.data["media_id"])


__all__ = ["WecomClient", "WecomError"]
