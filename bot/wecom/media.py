"""A resident's photo, downloaded at once: WeCom keeps temporary media for only three days."""
from __future__ import annotations

import dataclasses
import logging

from bot.wecom.client import WecomClient
from bot.wecom.errors import RateLimited, WecomError, WecomUnavailable
from conversations.messages import InboundMessage

log = logging.getLogger(__name__)


async def with_image(client: WecomClient, msg: InboundMessage, media_id: str) -> InboundMessage:
    """The message carrying the image bytes, or `image_failed` so the resident is asked to resend.

    A transient failure (timeout, rate limit) is raised instead: the inbox item stays and is retried,
    which is better than asking the resident again for a photo we could still fetch.
    """
    try:
        data, _ = await client.media_get(media_id)
    except (WecomUnavailable, RateLimited):
        raise
    except WecomError as e:
        log.info("wecom media %s… not available (errcode %s)", media_id[:8], e.code)
        return dataclasses.replace(msg, image_failed=True)
    if not data:
        return dataclasses.replace(msg, image_failed=True)
    return dataclasses.replace(msg, image=data)
