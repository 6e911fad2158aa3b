"""Request helpers every endpoint shares: a JSON object body, and a body read under a size limit."""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.api.errors import api_error


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, or a JSON 400 `bad_json` that names no internals."""
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise api_error(400, "bad_json")
    if not isinstance(data, dict):
        raise api_error(400, "bad_json")
    return data


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The raw body, refusing with 413 once it passes `limit` (chunked bodies included)."""
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    buf = bytearray()
    while chunk := await request.content.read(64 * 1024):
        buf += chunk
        if len(buf) > limit:  # chunked bodies have no Content-Length: stop reading at the limit
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(buf))
    return bytes(buf)


def dumps(obj: Any) -> str:
    """JSON for people's eyes: Chinese as written, not as \\u escapes."""
    return json.dumps(obj, ensure_ascii=False)
