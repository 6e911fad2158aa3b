"""The retry policy of the relay, in one place: how long the inbox and the outbox keep trying, how long they
pause between tries, and which delivery failures are worth a retry at all.

Inbox: a failing event is retried in its lane for `INBOX_RETRY_FOR` seconds (10 minutes: a database restart
or a network cut must not lose messages), pausing 1 s doubling to 60 s, then set aside. Outbox: a transient
failure (5xx, rate limit, timeout, a bug) is retried for `OUTBOX_RETRY_FOR` seconds (an hour), pausing 2 s
doubling to 5 minutes, then the row is dead; a permanent one is dead at once; an undeliverable one (a closed
48 h window) is shown to staff with the phone to call. Every pause is jittered in its upper half, so the
workers retrying after one outage do not all come back in the same instant.
"""
from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from relay.messengers import DeliveryError, Undeliverable
from store.models import Outbox

log = logging.getLogger(__name__)

INBOX_RETRY_FOR = 600.0    # seconds an event keeps being retried before it is set aside ([inbox] retry_for)
INBOX_MAX_PAUSE = 60.0     # the longest pause between two tries of one event
OUTBOX_RETRY_FOR = 3600.0  # seconds transient failures are retried before a row is dead ([outbox] retry_for)
OUTBOX_MAX_PAUSE = 300.0   # the longest pause between two tries of one row
OUTBOX_FIRST_PAUSE = 2.0


def backoff(attempt: int, first: float, most: float) -> float:
    """Seconds before try `attempt + 1`: doubling from `first`, capped at `most`, jittered in the upper half."""
    cap = min(most, first * 2 ** max(0, attempt - 1))
    return random.uniform(cap / 2, cap)


def inbox_pause(attempt: int, first: float = 1.0) -> float:
    return backoff(attempt, first, INBOX_MAX_PAUSE)


def outbox_pause(attempts: int) -> timedelta:
    """2 s, 4 s, … capped at 5 min: retries never stampede a platform."""
    return timedelta(seconds=backoff(attempts, OUTBOX_FIRST_PAUSE, OUTBOX_MAX_PAUSE))


def is_transient(e: Exception) -> bool:
    """A platform's own verdict when it gave one; anything else (a bug, a network error) is retried."""
    if isinstance(e, DeliveryError):
        return e.retryable
    return True


def is_undeliverable(e: Exception) -> bool:
    """The platform will never take it (staff must call): neither retried nor a dead letter."""
    return isinstance(e, Undeliverable)


def retry_or_bury(row: Outbox, now: datetime, error: str, retryable: bool,
                  retry_for: float = OUTBOX_RETRY_FOR) -> None:
    """Transient failures are retried with back-off until they have lasted `retry_for` seconds; a
    permanent one is dead at once."""
    row.attempts += 1
    row.last_error = error[:500]
    row.claimed_by = ""
    row.failing_since = row.failing_since or now
    if retryable and (now - row.failing_since).total_seconds() < retry_for:
        row.status, row.next_attempt_at = "pending", now + outbox_pause(row.attempts)
    else:
        row.status = "dead"  # a dead letter: listed for staff, never silently dropped
        log.error("outbox %s dead after %d attempts: %s", row.id, row.attempts, error[:200])
