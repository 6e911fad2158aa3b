"""Async Feishu open-platform client on aiohttp: tenant token through bot.tokens, typed errors, timeouts."""
from __future__ import annotations

import json
from typing import Any

from bot.apiclient import Answer, PlatformError, TokenClient, classify
from bot.tokens import TokenCache

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


class FeishuError(PlatformError):
    """A code from Feishu (0 for a transport failure). `retryable`: trying later may succeed."""

    label = "feishu code"


class FeishuUnavailable(FeishuError):
    """Network failure, timeout, HTTP 5xx or a non-JSON answer."""

    retryable = True


class RateLimited(FeishuError):
    retryable = True


class TokenError(FeishuError):
    """No usable tenant token: wrong app id / secret, or a token refused again right after a refetch."""


class RecipientUnreachable(FeishuError):
    """Nobody will ever receive this: the bot left the chat, the user cannot see the app, the message is gone."""


FAMILIES = ((RATE_CODES, RateLimited), (UNREACHABLE_CODES, RecipientUnreachable), (TOKEN_CODES, TokenError))


def error_for(code: int, message: str) -> FeishuError:
    return classify(code, message, FAMILIES, FeishuError)


class FeishuClient(TokenClient):
    """One per app; holds one aiohttp session, closed by `close()`. `api_base` has no path prefix."""

    platform = "feishu"
    token_codes, rate_codes, config_codes, families = TOKEN_CODES, RATE_CODES, CONFIG_CODES, FAMILIES
    error, unavailable_error, token_error = FeishuError, FeishuUnavailable, TokenError
    # Feishu answers errors with HTTP 4xx and a JSON body carrying the code: read the body first.
    code_field, message_field, errors_in_body = "code", "msg", True
    token_method, token_path = "POST", "/open-apis/auth/v3/tenant_access_token/internal"
    token_field, expires_field = "tenant_access_token", "expire"

    def __init__(self, *, api_base: str, app_id: str, app_secret: str, tokens: TokenCache,
                 timeout: float = 10.0) -> None:
        super().__init__(api_base, secret=app_secret, tokens=tokens, timeout=timeout)
        self.app_id = app_id
        self._bot_open_id: str | None = None

    @property
    def token_name(self) -> str:
        return f"feishu:{self.app_id}"

    def token_request(self) -> dict[str, Any]:
        return {"payload": {"app_id": self.app_id, "app_secret": self._secret}}

    def authorize(self, token: str, params: dict[str, Any], headers: dict[str, str]) -> None:
        headers["Authorization"] = f"Bearer {token}"

    def refusal(self, answer: Answer) -> FeishuError:
        if answer.code == 0:  # an HTTP error without a code
            return FeishuUnavailable(0, f"HTTP {answer.status} from {answer.path}")
        # A server error or throttling carries a code too, but says nothing about the request: retry it.
        if answer.status >= 500:
            return FeishuUnavailable(answer.code, f"HTTP {answer.status}: {answer.message}")
        if answer.status == 429:
            return RateLimited(answer.code, answer.message)
        return error_for(answer.code, answer.message)

    # --- API ---------------------------------------------------------------------------------------

    async def send(self, receive_id_type: str, receive_id: str, msg_type: str, content: dict[str, Any],
                   uuid: str) -> str:
        """im/v1/messages; `uuid` makes the send idempotent for an hour. Returns the message_id."""
        answer = await self._call("POST", "/open-apis/im/v1/messages", params={"receive_id_type": receive_id_type},
                                  payload={"receive_id": receive_id, "msg_type": msg_type,
                                           "content": json.dumps(content, ensure_ascii=False), "uuid": uuid})
        return str((answer.data.get("data") or {}).get("message_id") or "")

    async def patch_card(self, message_id: str, card: dict[str, Any]) -> None:
        """Rewrite a sent card (it must have been sent with config.update_multi = true)."""
        await self._call("PATCH", f"/open-apis/im/v1/messages/{message_id}",
                         payload={"content": json.dumps(card, ensure_ascii=False)})

    async def get_image(self, message_id: str, image_key: str) -> bytes:
        """A resident's image from their message (the resource endpoint; the images API only serves ours)."""
        answer = await self._call("GET", f"/open-apis/im/v1/messages/{message_id}/resources/{image_key}",
                                  params={"type": "image"}, raw=True)
        return answer.content

    async def get_file(self, message_id: str, file_key: str) -> bytes:
        """A file of a person's message, an audio message's recording among them (`type=file`)."""
        answer = await self._call("GET", f"/open-apis/im/v1/messages/{message_id}/resources/{file_key}",
                                  params={"type": "file"}, raw=True)
        return answer.content

    async def bot_open_id(self) -> str | None:
        """Our bot's open_id (bot/v3/info), to tell a mention of the bot from a mention of a person."""
        if self._bot_open_id is None:
            answer = await self._call("GET", "/open-apis/bot/v3/info")
            self._bot_open_id = str((answer.data.get("bot") or {}).get("open_id") or "")
        return self._bot_open_id or None
