"""What the relay sends through: the messenger interface every channel implements, and the registry of them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dispatch.cards import Card


@dataclass(frozen=True)
class Recipient:
    channel: str        # sim | wecom | wecom_kf | wechat_mp | feishu
    user: str = ""      # a person, 1:1
    chat: str = ""      # a group chat (takes precedence when set)


@dataclass(frozen=True)
class Delivered:
    message_id: str = ""    # the platform's id of the sent message
    handle: str = ""        # what the platform needs to rewrite this message later (WeCom response_code)


class DeliveryError(Exception):
    """A send that failed. `retryable` decides between back-off and a dead letter shown to staff."""

    def __init__(self, message: str, *, retryable: bool, code: str = "") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code


class Undeliverable(DeliveryError):
    """The platform will never take this message (e.g. the 48 h window closed); staff must call."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message, retryable=False, code=code)


class Messenger(Protocol):
    """`idempotency_key` (an outbox row id) lets a platform that supports it (Feishu's uuid) drop a
    retried send; platforms without it accept and ignore it."""

    channel: str

    async def send_text(self, to: Recipient, text: str, options: tuple[str, ...] = (), *,
                        idempotency_key: str = "") -> Delivered: ...

    async def send_card(self, to: Recipient, card: Card, *, idempotency_key: str = "") -> Delivered: ...

    async def update_card(self, to: Recipient, copy: Delivered, card: Card, reply_token: str = "") -> Delivered: ...


class Messengers:
    """One messenger per channel; conversations and the outbox address people by channel."""

    def __init__(self) -> None:
        self._by_channel: dict[str, Messenger] = {}

    def register(self, messenger: Messenger) -> None:
        self._by_channel[messenger.channel] = messenger

    def get(self, channel: str) -> Messenger | None:
        return self._by_channel.get(channel)

    def channels(self) -> frozenset[str]:
        return frozenset(self._by_channel)
