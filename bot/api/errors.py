"""JSON errors {"error": {"code", "message"}} with their sentences from templates/api/errors.toml."""
from __future__ import annotations

import json
import tomllib
from functools import cache
from importlib.resources import files
from typing import Any

from aiohttp import web


@cache
def _messages() -> dict[str, str]:
    return tomllib.loads((files("templates") / "api" / "errors.toml").read_text(encoding="utf-8"))


def api_error(status: int, code: str, **extra: Any) -> web.HTTPException:
    """An HTTP exception carrying the JSON error body; raise it from a handler."""
    message = _messages().get(code, code).format(field=extra.get("field", ""))
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(extra)
    cls = web.HTTPException
    for c in (web.HTTPBadRequest, web.HTTPUnauthorized, web.HTTPForbidden, web.HTTPNotFound, web.HTTPConflict,
              web.HTTPRequestEntityTooLarge, web.HTTPUnprocessableEntity, web.HTTPInternalServerError):
        if c.status_code == status:
            cls = c
    kwargs = {"max_size": 0, "actual_size": 0} if cls is web.HTTPRequestEntityTooLarge else {}
    exc = cls(text=json.dumps({"error": body}, ensure_ascii=False), content_type="application/json", **kwargs)
    return exc
