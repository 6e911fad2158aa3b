"""Why a webhook refuses a callback, shared by every platform: the HTTP answer travels with the reason;
and the two checks every platform's callback crypto makes (signature, replay window)."""
from __future__ import annotations

import hmac

from store.clock import Clock

# Every platform retries within about 15 s; a correctly signed request older than this is a replay.
WINDOW = 300


class CallbackRejected(Exception):
    """A callback we will not act on; `status` is the HTTP answer (403 unverifiable, 400 unreadable)."""

    status = 400


class BadSignature(CallbackRejected):
    status = 403


class StaleTimestamp(CallbackRejected):
    status = 403  # a correctly signed but old request is a replay, refused like a forgery


class BadToken(CallbackRejected):
    status = 403


class Undecryptable(CallbackRejected):
    status = 400


class MalformedEnvelope(CallbackRejected):
    status = 400


def check_signature(expected: str, given: str | None) -> None:
    """`given` (hex, any case) equals `expected`, compared in constant time, or BadSignature."""
    if not hmac.compare_digest(expected.encode(), (given or "").lower().encode()):
        raise BadSignature("signature mismatch")


def check_fresh(timestamp: str | None, clock: Clock, window: int = WINDOW) -> None:
    """The callback's timestamp (epoch seconds) lies within `window` of the clock, or StaleTimestamp."""
    try:
        ts = int(timestamp)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise StaleTimestamp("timestamp is not a number") from None
    if abs(clock.now().timestamp() - ts) > window:
        raise StaleTimestamp("timestamp outside the replay window")
