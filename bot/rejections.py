"""Why a webhook refuses a callback, shared by every platform: the HTTP answer travels with the reason."""
from __future__ import annotations

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
