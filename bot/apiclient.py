"""What every platform's API client shares: one aiohttp session per client, opened lazily, with a
total timeout, closed at app cleanup."""
from __future__ import annotations

import json
from typing import Any

import aiohttp


def json_object(body: bytes) -> dict[str, Any] | None:
    """A platform's answer as a JSON object, or None when it is not one (HTML error page, truncation)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


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
