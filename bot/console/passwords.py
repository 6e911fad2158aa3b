"""Console passwords: argon2 hashes (never the password) per member of staff, set by `repairbot passwd`."""
from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import ConsoleLogin

# argon2id with the library's defaults (RFC 9106's low-memory profile: 3 passes over 64 MiB).
HASHER = PasswordHasher()
MIN_LENGTH = 8
MAX_LENGTH = 256   # argon2 takes any length; a megabyte "password" is only a way to burn our CPU


def acceptable(password: str) -> bool:
    return MIN_LENGTH <= len(password) <= MAX_LENGTH and password.strip() == password and password.isprintable()


async def hash_password(password: str) -> str:
    """Hashed off the event loop: a hash takes tens of milliseconds of CPU by design."""
    return await asyncio.to_thread(HASHER.hash, password)


async def verify(password_hash: str | None, password: str) -> bool:
    """Whether `password` is the one hashed; with no hash at all a dummy one is checked, so an unknown
    username costs the same time as a wrong password and tells an attacker nothing."""
    if len(password) > MAX_LENGTH:
        return False
    target = password_hash or _dummy_hash()

    def check() -> bool:
        try:
            return HASHER.verify(target, password)
        except (VerificationError, InvalidHashError):
            return False
    return await asyncio.to_thread(check) and password_hash is not None


@cache
def _dummy_hash() -> str:
    return HASHER.hash("no such login")


def stamp(password_hash: str) -> str:
    """A short fingerprint of the hash a session was opened with: a new password ends the older sessions."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


async def set_password(session: AsyncSession, person_id: int, password_hash: str, now: datetime) -> None:
    login = await session.get(ConsoleLogin, person_id)
    if login is None:
        session.add(ConsoleLogin(person_id=person_id, password_hash=password_hash, set_at=now))
    else:
        login.password_hash, login.set_at = password_hash, now
    await session.flush()


async def hash_of(session: AsyncSession, person_id: int) -> str | None:
    return (await session.execute(select(ConsoleLogin.password_hash)
                                  .where(ConsoleLogin.person_id == person_id))).scalar_one_or_none()
