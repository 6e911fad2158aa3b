"""WeCom kf delivery: send_msg within 48 h and 5 messages per customer message, Undeliverable beyond."""
from __future__ import annotations

from typing import Any

from bot.menu_messenger import MenuMessenger
from relay.messengers import Delivered, DeliveryError, Recipient, Undeliverable
from bot.wecom.errors import RecipientUnreachable, WecomError
from bot.wecom_kf.client import KfClient


class WecomKfMessenger(MenuMessenger):
    """Addresses a customer by external_userid (`to.user`); the kf account is `to.chat`, or the one they
    last wrote to (an outbox row names only the person)."""

    channel = "wecom_kf"
    client: KfClient

    def menu_item(self, number: int, option: str) -> dict[str, Any]:
        return {"type": "click", "click": {"id": str(number), "content": option}}

    async def _send(self, to: Recipient, payload: dict) -> Delivered:
        user = to.user
        if not user:
            raise Undeliverable("wecom_kf: no external_userid to send to", code="no_recipient")
        record = await self.window.claim(user)  # Undeliverable: outside 48 h, or 5 already sent
        open_kfid = to.chat or str(record.get("open_kfid", ""))
        if not open_kfid:
            await self.window.release(user)
            raise Undeliverable("wecom_kf: no kf account known for this customer", code="no_open_kfid")
        try:
            data = await self.client.send_msg({"touser": user, "open_kfid": open_kfid, **payload})
        except WecomError as e:
            if e.code:
                # The platform refused it, so it did not count; a transport failure (code 0) may have
                # been delivered, so that claim is kept: better one message short than one too many.
                await self.window.release(user)
            if isinstance(e, RecipientUnreachable):
                raise Undeliverable(f"wecom_kf: {e}", code=str(e.code)) from None
            raise DeliveryError(f"wecom_kf: {e}", retryable=e.retryable, code=str(e.code)) from None
        return Delivered(message_id=str(data.get("msgid", "")))
