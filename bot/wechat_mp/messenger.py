"""Official Account delivery: customer-service messages inside the 48 h window, Undeliverable outside it."""
from __future__ import annotations

from typing import Any

from bot.menu_messenger import MenuMessenger
from relay.messengers import Delivered, DeliveryError, Recipient, Undeliverable
from bot.wechat_mp.client import OUT_OF_WINDOW, MpClient, MpError


class WechatMpMessenger(MenuMessenger):
    channel = "wechat_mp"
    client: MpClient

    def menu_item(self, number: int, option: str) -> dict[str, Any]:
        return {"id": str(number), "content": option}

    async def _send(self, to: Recipient, payload: dict) -> Delivered:
        openid = to.user or to.chat
        if not openid:
            raise Undeliverable("wechat_mp: no openid to send to", code="no_recipient")
        await self.window.claim(openid)  # raises Undeliverable when the 48 h window is known to be closed
        try:
            data = await self.client.send_custom({"touser": openid, **payload})
        except MpError as e:
            if e.code == OUT_OF_WINDOW:
                raise Undeliverable(f"wechat_mp: {e}", code=str(e.code)) from None
            raise DeliveryError(f"wechat_mp: {e}", retryable=e.retryable, code=str(e.code)) from None
        return Delivered(message_id=str(data.get("msgid", "")))
