"""Official Account delivery: customer-service messages inside the 48 h window, Undeliverable outside it."""
from __future__ import annotations

from relay.messengers import Delivered, DeliveryError, Recipient, Undeliverable
from bot.plain_text import no_links
from bot.wechat_mp.client import OUT_OF_WINDOW, MpClient, MpError
from bot.wechat_mp.window import ReplyWindow
from dispatch.cards import Card

MAX_MENU = 10  # options beyond this become plain text lines


class WechatMpMessenger:
    channel = "wechat_mp"

    def __init__(self, client: MpClient, window: ReplyWindow) -> None:
        self.client = client
        self.window = window

    async def send_text(self, to: Recipient, text: str, options: tuple[str, ...] = (), *,
                        idempotency_key: str = "") -> Delivered:
        text = no_links(text)  # customer-service text turns <a href> into a link
        if options:
            # A menu message: tapping an option sends its text back to us as the user's message.
            payload = {"msgtype": "msgmenu", "msgmenu": {
                "head_content": text,
                "list": [{"id": str(i), "content": o} for i, o in enumerate(options[:MAX_MENU], 1)],
                "tail_content": "\n".join(options[MAX_MENU:]),
            }}
        else:
            payload = {"msgtype": "text", "text": {"content": text}}
        return await self._send(to, payload)

    async def send_card(self, to: Recipient, card: Card, *, idempotency_key: str = "") -> Delivered:
        # The Official Account has no interactive cards; residents read the card's text.
        return await self._send(to, {"msgtype": "text", "text": {"content": no_links(card.as_text())}})

    async def update_card(self, to: Recipient, copy: Delivered, card: Card, reply_token: str = "") -> Delivered:
        # A sent message cannot be edited: the new state goes out as a new message.
        return await self.send_card(to, card)

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
