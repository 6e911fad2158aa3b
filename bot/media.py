"""Photos served to staff by signed, expiring URLs (a leaked link stops working)."""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from aiohttp import web
from sqlalchemy import select

from bot.services import Services, services_of
from store.models import Photo

routes = web.RouteTableDef()


def _sig(secret: bytes, photo_id: int, exp: int) -> str:
    return hmac.new(secret, f"photo:{photo_id}:{exp}".encode(), hashlib.sha256).hexdigest()[:32]


def photo_url(services: Services, photo_id: int, now: datetime) -> str:
    settings = services.settings
    exp = int(now.timestamp()) + settings.media.url_ttl
    base = settings.service.public_url.rstrip("/")
    return f"{base}/media/{photo_id}?exp={exp}&sig={_sig(services.secret, photo_id, exp)}"


@routes.get("/media/{photo_id:\\d+}")
async def get_photo(request: web.Request) -> web.StreamResponse:
    services = services_of(request)
    photo_id = int(request.match_info["photo_id"])
    try:
        exp = int(request.query.get("exp", ""))
    except ValueError:
        raise web.HTTPForbidden(text="bad signature")
    sig = request.query.get("sig", "")
    if not hmac.compare_digest(sig, _sig(services.secret, photo_id, exp)):
        raise web.HTTPForbidden(text="bad signature")
    if exp < services.clock.now().timestamp():
        raise web.HTTPGone(text="link expired")
    async with services.sessions() as session:
        photo = (await session.execute(select(Photo).where(Photo.id == photo_id))).scalar_one_or_none()
    path = services.media.open(photo.path) if photo else None
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Type": photo.content_type, "Cache-Control": "private, max-age=3600"})
