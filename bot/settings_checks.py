"""Production checks on a loaded configuration: what `check-config` reports and `serve`/`worker` refuse.

Kept apart from load_settings, which stays usable with the tests' short tokens; each problem names its key.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import BaseModel, SecretStr

from bot.settings import ConfigError, Settings
from bot.sim.demo_credentials import DEMO_CORP_ID, DEMO_FEISHU_APP_ID, FIXED as DEMO_SECRETS

MIN_TOKEN = 32
# What the example configuration and the contract put where a real value belongs.
PLACEHOLDERS = frozenset({"change-me", "changeme", "change_me", "replace-me", "todo", "xxx"})


def is_placeholder(value: str) -> bool:
    v = value.strip().lower()
    return v in PLACEHOLDERS or "..." in v or "\u2026" in v or (v.startswith("<") and v.endswith(">"))


def production_problems(s: Settings) -> list[str]:
    """Everything that makes this configuration unsafe to serve, one line per key."""
    problems: list[str] = []
    seen: set[str] = set()

    def bad(key: str, why: str) -> None:
        if key not in seen:  # one complaint per key: the first is the most basic one
            seen.add(key)
            problems.append(f"{key}: {why}")

    for key, value in _strings(s):
        if value and is_placeholder(value):
            bad(key, f"{_shown(key, value)} is a placeholder from the example; put the real value here")
        elif value in DEMO_SECRETS and _is_secret(key):
            bad(key, "is the simulator's public demo credential; a configured service never accepts it")
    for i, token in enumerate(s.service.api_tokens):
        if len(token.get_secret_value()) < MIN_TOKEN:
            bad(f"service.api_tokens[{i}]", f"shorter than {MIN_TOKEN} characters; "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    for name in ("secret_key", "metrics_token"):
        value = getattr(s.service, name).get_secret_value()
        if value and len(value) < MIN_TOKEN:
            bad(f"service.{name}", f"shorter than {MIN_TOKEN} characters")
    if s.wecom is not None:
        w = s.wecom
        _required(bad, "wecom", corp_id=w.corp_id, secret=w.secret, token=w.token)
        if w.corp_id == DEMO_CORP_ID:
            bad("wecom.corp_id", "is the simulator's demo corp id")
        _aes_key(bad, "wecom.encoding_aes_key", w.encoding_aes_key.get_secret_value(), required=True)
    if s.wechat_mp is not None:
        m = s.wechat_mp
        _required(bad, "wechat_mp", app_id=m.app_id, secret=m.secret, token=m.token)
        _aes_key(bad, "wechat_mp.encoding_aes_key", m.encoding_aes_key.get_secret_value(), required=False)
    if s.feishu is not None:
        f = s.feishu
        _required(bad, "feishu", app_id=f.app_id, app_secret=f.app_secret, verification_token=f.verification_token)
        if f.app_id == DEMO_FEISHU_APP_ID:
            bad("feishu.app_id", "is the simulator's demo app id")
        if not f.encrypt_key.get_secret_value():
            bad("feishu.encrypt_key", "is required: without an Encrypt Key Feishu signs nothing, so callbacks "
                "could not be told from forgeries (set one in the Feishu console: Events and Callbacks, Encryption Strategy)")
    return problems


def check_production(s: Settings) -> None:
    """Raise ConfigError naming every offending key."""
    problems = production_problems(s)
    if problems:
        raise ConfigError("\n".join(problems))


def _required(bad, section: str, **values: Any) -> None:
    for name, value in values.items():
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not value.strip():
            bad(f"{section}.{name}", "is empty; callbacks could not be verified or the API called without it")


def _aes_key(bad, key: str, value: str, *, required: bool) -> None:
    """WeCom / Official Account EncodingAESKey: 43 characters of base64 that decode to 32 bytes."""
    if not value:
        if required:
            bad(key, "is empty; callbacks could not be decrypted")
        return
    if len(value) != 43:
        bad(key, f"must be the platform's 43-character EncodingAESKey (this one has {len(value)})")
        return
    try:
        raw = base64.b64decode(value + "=", validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        bad(key, "is not valid base64 for a 32-byte key; copy it again from the platform's console")


def _strings(model: BaseModel, prefix: str = ""):
    """(dotted key, value) of every string and secret in the settings, secrets revealed for checking."""
    for name in type(model).model_fields:
        yield from _values(getattr(model, name), f"{prefix}{name}")


def _values(value: Any, key: str):
    if isinstance(value, BaseModel):
        yield from _strings(value, key + ".")
    elif isinstance(value, SecretStr):
        yield key, value.get_secret_value()
    elif isinstance(value, str):
        yield key, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _values(item, f"{key}[{i}]")


def _is_secret(key: str) -> bool:
    return key.rsplit(".", 1)[-1].split("[", 1)[0] in (
        "secret", "token", "encoding_aes_key", "app_secret", "verification_token", "encrypt_key",
        "api_tokens", "secret_key", "metrics_token")


def _shown(key: str, value: str) -> str:
    return "the value" if _is_secret(key) else repr(value)


def duty_advisories(s: Settings, today) -> list[str]:
    """What check-config warns about the duty desk (BR-3) without refusing the configuration: a duty role
    no [[staff]] holds (nobody would be told of reports in its hours), and a year the desk needs now whose
    public holidays the installed chinesecalendar does not know (the desk then counts weekends only)."""
    from dispatch.calendar_days import PACKAGE_VERSION, covered, package_years, years_to_watch
    from dispatch.duty import CONTROL, DESK, HOUSEKEEPER

    notes = []
    if s.staff:  # none: the simulator's cast, which has its own
        held = {p.role for p in s.staff}
        d = s.duty
        for role, hours in ((DESK, f"{d.front_desk} on working days"), (CONTROL, f"{d.central_control} every day"),
                            (HOUSEKEEPER, f"{d.front_desk} on weekends and public holidays")):
            if role not in held:
                notes.append(f"duty: no [[staff]] with role = \"{role}\": nobody holds the desk {hours} (BR-3)")
    missing = [y for y in years_to_watch(today) if not covered(y)]
    if missing:
        first, last = package_years()
        notes.append(f"calendar: chinesecalendar {PACKAGE_VERSION} covers {first}-{last}; "
                     f"{', '.join(map(str, missing))} counts weekends only as days off (provisional) until the "
                     "package is upgraded or the year's holidays are entered (PUT /api/v1/calendar/{date}) and "
                     "confirmed (PUT /api/v1/calendar/years/{year})")
    return notes
