"""Request helpers every endpoint shares: a JSON object body, and a body read under a size limit."""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot import untrusted
from bot.api.errors import api_error


MAX_JSON_BODY = 1024 * 1024  # a ticket or an action is a few hundred bytes
MAX_PHOTO_BODY = 16 * 1024 * 1024  # the simulator takes a photo as base64 (intake.max_photo_bytes: 10 MB)


async def json_object(request: web.Request, limit: int = MAX_JSON_BODY) -> dict[str, Any]:
    """The body as a JSON object under bot.untrusted's rules: 413 past `limit`, otherwise a JSON 400
    `bad_json` that names no internals. The body is read as UTF-8 whatever its Content-Type says (curl's
    `-d` labels JSON as a form)."""
    raw = await read_limited(request, limit)
    try:
        return untrusted.json_object(raw)
    except untrusted.Unreadable:
        raise api_error(400, "bad_json") from None


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The raw body, refusing with 413 once it passes `limit` (chunked bodies included)."""
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    buf = bytearray()
    try:
        while chunk := await request.content.read(64 * 1024):
            buf += chunk
            if len(buf) > limit:  # chunked bodies have no Content-Length: stop reading at the limit
                raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(buf))
    except web.RequestPayloadError:  # a Content-Encoding the body does not match (gzip that is not gzip)
        raise web.HTTPBadRequest(text="bad request") from None
    return bytes(buf)


@web.middleware
async def undecodable_headers(request: web.Request, handler):
    """400 for a header value that is not UTF-8: aiohttp keeps such bytes as surrogate escapes, which every
    later `.encode()` (a signature, a bearer token) would raise on as a 500."""
    for value in request.headers.values():
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise web.HTTPBadRequest(text="bad request") from None
    return await handler(request)


def dumps(obj: Any) -> str:
    """JSON for people's eyes: Chinese as written, not as \\u escapes."""
    return json.dumps(obj, ensure_ascii=False)
