"""Console sessions in a cookie that is signed and encrypted (aiohttp-session's Fernet storage), keyed from the
service's own secret; HttpOnly, SameSite=Lax, Secure when the service is reached over HTTPS."""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from aiohttp import web
from aiohttp_session import AbstractStorage, Session, get_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from bot.console.context import services
from bot.console.passwords import hash_of, stamp
from bot.console.staff import User
from dispatch.permissions import is_staff
from store.models import Person

COOKIE = "repairbot_console"
PATH = "/admin"
MAX_AGE = 12 * 3600   # one shift; after it the console asks for the password again


def cookie_key(secret: bytes) -> bytes:
    """The cookie's 32-byte Fernet key (half signs, half encrypts): derived from the service secret for this use
    only (the secret also signs photo links; a key for one never opens the other)."""
    return hmac.new(secret, b"repairbot console session v1", hashlib.sha256).digest()


class CookieStorage(AbstractStorage):
    """aiohttp-session's encrypted cookie, built at the first request: the secret and the public URL are known
    only once the service has started (bot/app.py)."""

    def __init__(self) -> None:
        super().__init__(cookie_name=COOKIE, path=PATH, max_age=MAX_AGE, httponly=True, samesite="Lax")
        self._inner: EncryptedCookieStorage | None = None

    def _storage(self, request: web.Request) -> EncryptedCookieStorage:
        if self._inner is None:
            s = services(request)
            self._inner = EncryptedCookieStorage(
                cookie_key(s.secret), cookie_name=COOKIE, path=PATH, max_age=MAX_AGE, httponly=True,
                samesite="Lax", secure=s.settings.service.public_url.lower().startswith("https://"))
        return self._inner

    async def load_session(self, request: web.Request) -> Session:
        return await self._storage(request).load_session(request)

    async def save_session(self, request: web.Request, response: web.StreamResponse, session: Session) -> None:
        await self._storage(request).save_session(request, response, session)


async def signed_in(request: web.Request) -> User | None:
    """The member of staff this session belongs to, checked against the database on every request: a new
    password, a role the configuration took away, or a shift's length on the service's clock ends it."""
    session = await get_session(request)
    person_id = session.get("uid")
    if not isinstance(person_id, int):
        return None
    s = services(request)
    now = s.clock.now()
    opened = session.get("at")
    if not isinstance(opened, (int, float)) or not 0 <= now.timestamp() - opened <= MAX_AGE:
        sign_out(session)
        return None
    async with s.sessions() as db:
        person = await db.get(Person, person_id)
        password_hash = await hash_of(db, person_id) if person is not None else None
    if person is None or not is_staff(person.role) or password_hash is None \
            or not hmac.compare_digest(stamp(password_hash), str(session.get("stamp", ""))):
        sign_out(session)
        return None
    return User.of(person)


def sign_in(session: Session, person_id: int, password_hash: str, now: datetime, csrf: str) -> None:
    """A fresh session for this person (nothing of the anonymous one survives, the CSRF token included)."""
    session.invalidate()
    session.update(uid=person_id, stamp=stamp(password_hash), at=now.timestamp(), csrf=csrf)


def sign_out(session: Session) -> None:
    session.invalidate()
