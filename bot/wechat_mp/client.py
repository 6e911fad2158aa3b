"""Async Official Account API on aiohttp: customer-service messages, media download, one shared token."""
from __future__ import annotations

from typing import Any

from bot.apiclient import Answer, PlatformError, TokenClient
from bot.tokens import TokenCache

# invalid credential (40001), invalid token (40014), expired token (42001): refetch once, then fail.
TOKEN_CODES = frozenset({40001, 40014, 42001})
# system busy (-1), API quota (45009), reply limit (45047): worth another try later.
RETRY_CODES = frozenset({-1, 45009, 45047})
OUT_OF_WINDOW = 45015     # more than 48 h since the user wrote, or they unfollowed
MAX_MEDIA = 20 * 1024 * 1024


class MpError(PlatformError):
    """An errcode from the Official Account API (code 0: transport failure). `retryable`: try later."""

    label = "wechat_mp errcode"

    def __init__(self, code: int, message: str = "", *, retryable: bool | None = None) -> None:
        super().__init__(code, message)
        self.retryable = (code == 0 or code in RETRY_CODES) if retryable is None else retryable


class MpClient(TokenClient):
    """One per Official Account; holds one aiohttp session, closed by `close()`."""

    platform = "wechat_mp"
    token_codes, rate_codes = TOKEN_CODES, RETRY_CODES   # rate limits: no back-off here, the outbox retries
    error = unavailable_error = token_error = MpError
    token_path = "/cgi-bin/token"
    max_body = MAX_MEDIA

    def __init__(self, *, api_base: str, app_id: str, secret: str, tokens: TokenCache,
                 timeout: float = 10.0) -> None:
        super().__init__(api_base, secret=secret, tokens=tokens, timeout=timeout)
        self.app_id = app_id

    @property
    def token_name(self) -> str:
        return f"wechat_mp:{self.app_id}"

    def token_request(self) -> dict[str, Any]:
        # Every fetch invalidates the account's previous token: only the locked shared cache calls this.
        return {"params": {"grant_type": "client_credential", "appid": self.app_id, "secret": self._secret}}

    def token_refusal(self, answer: Answer) -> MpError:
        # A bad appid/secret or an IP not on the whitelist will not fix itself.
        return MpError(answer.code, answer.message, retryable=answer.code in RETRY_CODES)

    async def send_custom(self, payload: dict[str, Any]) -> dict[str, Any]:
        """message/custom/send; allowed within 48 h of the user's last message (45015 after)."""
        return (await self._call("POST", "/cgi-bin/message/custom/send", payload=payload)).data

    async def get_media(self, media_id: str) -> tuple[bytes, str]:
        """Temporary media's bytes and Content-Type; an error arrives as JSON with HTTP 200 and is raised."""
        answer = await self._call("GET", "/cgi-bin/media/get", params={"media_id": media_id}, raw=True)
        return answer.content, answer.content_type.split(";", 1)[0].strip() or "application/octet-stream"
