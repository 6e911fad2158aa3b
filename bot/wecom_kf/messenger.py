"""WeCom kf delivery: send_msg within 48 h and 5 messages per customer message, Undeliverable beyond."""
from __future__ import annotations

from relay.messengers import Delivered, DeliveryError, Recipient, Undeliverable
from bot.plain_text import no_links
from bot.wechat_mp.window import ReplyWindow
from bot.wecom.errors import RecipientUnreachable, WecomError
from bot.wecom_kf.client import KfClient
from dispatch.cards import Card

MAX_MENU = 10


class WecomKfMessenger:
    """Addresses a customer by external_userid (`to.user`); the kf account is `to.chat`, or the one they
    last wrote to (an outbox row names only the person)."""

    channel = "wecom_kf"

    def __init__(self, client: KfClient, window: ReplyWindow) -> None:
        self.client = client
        self.window = window

    async def send_text(self, to: Recipient, text: str, options: tuple[str, ...] = (), *,
                        idempotency_key: str = "") -> Delivered:
        text = no_links(text)  # as on the WeCom app: another resident's text must not become a link
        if options:
            # Tapping an option sends its text back to us as the customer's message.
            payload = {"msgtype": "msgmenu", "msgmenu": {
                "head_content": text,
                "list": [{"type": "click", "click": {"id": str(i), "content": o}}
                         for i, o in enumerate(options[:MAX_MENU], 1)],
                "tail_content": "\n".join(options[MAX_MENU:]),
            }}
        else:
            payload = {"msgtype": "text", "text": {"content": text}}
        return await self._send(to, payload)

    async def send_card(self, to: Recipient, card: Card, *, idempotency_key: str = "") -> Delivered:
        return await self._send(to, {"msgtype": "text", "text": {"content": no_links(card.as_text())}})

    async def update_card(self, to: Recipient, copy: Delivered, card: Card, reply_token: str = "") -> Delivered:
        # kf messages cannot be edited: the new state goes out as a new message (and counts against the 5).
        return await self.send_card(to, card)

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
