"""Where proactive messages go: one messenger per channel, chosen by the conversation's key."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from conversations.messages import Reply
from conversations.storage import StorageKey

log = logging.getLogger(__name__)

Send = Callable[[StorageKey, list[Reply]], Awaitable[None]]


class Messengers:
    def __init__(self) -> None:
        self._by_channel: dict[str, Send] = {}

    def register(self, channel: str, send: Send) -> None:
        self._by_channel[channel] = send

    async def send(self, key: StorageKey, replies: list[Reply]) -> bool:
        send = self._by_channel.get(key.channel)
        if send is None:
            log.warning("no messenger for channel %s; message to %s kept undelivered", key.channel, key.user)
            return False
        await send(key, replies)
        return True
