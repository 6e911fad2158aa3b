"""The messenger shared by the platforms without cards (Official Account, WeCom kf): options become a
tap menu, a card goes out as its text, and an update as a new message."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from relay.messengers import Delivered, Recipient
from bot.plain_text import no_links
from dispatch.cards import Card

if TYPE_CHECKING:
    from bot.wechat_mp.window import ReplyWindow

MAX_MENU = 10  # options beyond this become plain text lines


class MenuMessenger:
    """A subclass names its `channel`, the shape of one menu entry and how one payload is sent."""

    channel: str

    def __init__(self, client: Any, window: ReplyWindow) -> None:
        self.client = client
        self.window = window

    def menu_item(self, number: int, option: str) -> dict[str, Any]:
        raise NotImplementedError

    async def _send(self, to: Recipient, payload: dict[str, Any]) -> Delivered:
        raise NotImplementedError

    async def send_text(self, to: Recipient, text: str, options: tuple[str, ...] = (), *,
                        idempotency_key: str = "") -> Delivered:
        text = no_links(text)  # these platforms turn <a href> into a link: another resident's text must not
        if options:
            # A menu message: tapping an option sends its text back to us as the person's message.
            payload = {"msgtype": "msgmenu", "msgmenu": {
                "head_content": text,
                "list": [self.menu_item(i, o) for i, o in enumerate(options[:MAX_MENU], 1)],
                "tail_content": "\n".join(options[MAX_MENU:]),
            }}
        else:
            payload = {"msgtype": "text", "text": {"content": text}}
        return await self._send(to, payload)

    async def send_card(self, to: Recipient, card: Card, *, idempotency_key: str = "") -> Delivered:
        # No interactive cards here: people read the card's text.
        return await self._send(to, {"msgtype": "text", "text": {"content": no_links(card.as_text())}})

    async def update_card(self, to: Recipient, copy: Delivered, card: Card, reply_token: str = "") -> Delivered:
        # A sent message cannot be edited: the new state goes out as a new message (on kf, one of the 5).
        return await self.send_card(to, card)
