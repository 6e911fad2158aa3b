"""WeCom API errors, one type per errcode family, so callers decide retry vs. dead letter by type."""
from __future__ import annotations

from bot.apiclient import PlatformError, classify

# access_token invalid (40014), expired (42001), or "invalid credential" (40001) on an API call: refetch once.
TOKEN_CODES = frozenset({40001, 40014, 42001})
# -1 system busy, 45009 API frequency limit, 45033 too many concurrent calls: back off and retry a little.
RATE_CODES = frozenset({-1, 45009, 45033})
# The recipient cannot get our message: invalid userid (40003), all recipients invalid or outside the app's
# visible range (81013), userid not found (60111), app chat not found (86003).
UNREACHABLE_CODES = frozenset({40003, 60111, 81013, 86003})
# gettoken: invalid corpid (40013), bad secret (40001 there), IP not allowed (60020): configuration, not luck.
CONFIG_CODES = frozenset({40013, 40001, 60020})


class WecomError(PlatformError):
    """An errcode from WeCom (or a transport failure, code 0). `retryable`: try again later."""

    label = "wecom errcode"


class TokenError(WecomError):
    """No usable access token: bad corp id / secret, or the token was refused again after a refetch."""


class RateLimited(WecomError):
    retryable = True


class InvalidArgument(WecomError):
    """WeCom refused the request itself (bad field, unknown media, used response_code): never retry."""


class RecipientUnreachable(WecomError):
    """The user or chat cannot receive messages from this app (not a member, outside the visible range)."""


class WecomUnavailable(WecomError):
    """Timeout, connection failure, non-200 HTTP or a non-JSON answer: WeCom may be back later."""

    retryable = True


FAMILIES = ((TOKEN_CODES, TokenError), (RATE_CODES, RateLimited), (UNREACHABLE_CODES, RecipientUnreachable))


def error_for(code: int, message: str) -> WecomError:
    return classify(code, message, FAMILIES, InvalidArgument)
