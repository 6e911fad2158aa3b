"""Async WeCom kf API: sync_msg and send_msg on the WeCom client (same token, refetch and back-off rules)."""
from __future__ import annotations

from typing import Any

from bot.wecom.client import WecomClient

SYNC_LIMIT = 1000  # the platform's maximum page


class KfClient(WecomClient):
    """The WeCom app's client plus the kf calls; the app needs the 微信客服 API permission in WeCom's admin."""

    async def sync_msg(self, *, cursor: str, token: str, open_kfid: str, limit: int = SYNC_LIMIT) -> dict[str, Any]:
        payload: dict[str, Any] = {"cursor": cursor, "token": token, "limit": limit, "open_kfid": open_kfid}
        return await self._post_json("/cgi-bin/kf/sync_msg", {k: v for k, v in payload.items() if v != ""})

    async def send_msg(self, payload: dict[str, Any]) -> dict[str, Any]:
        """kf/send_msg: within 48 h of the customer's last message, at most 5 messages per message of theirs."""
        return await self._post_json("/cgi-bin/kf/send_msg", payload)
