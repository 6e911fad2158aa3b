"""A resident's voice note, downloaded at once (platform media expires) so its recording stays with the report."""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable

from bot.apiclient import PlatformError
from conversations.messages import InboundMessage

log = logging.getLogger(__name__)


async def with_recording(msg: InboundMessage, download: Callable[[], Awaitable[bytes]],
                         audio_format: str = "") -> InboundMessage:
    """The voice note carrying its recording; without it when the platform refuses for good (the resident is
    answered all the same and asked to type). A transient failure (timeout, rate limit, 5xx) is raised
    instead, as for photos: the inbox item stays and is retried while the platform still holds the media."""
    try:
        data = await download()
    except PlatformError as e:
        if e.retryable:
            raise
        log.info("%s voice note %s not downloaded: %s", msg.channel, msg.message_id, e)
        return dataclasses.replace(msg, audio_format=audio_format)
    return dataclasses.replace(msg, audio=data or None, audio_format=audio_format)
