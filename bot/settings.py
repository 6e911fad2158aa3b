"""Settings: one object loaded once from a TOML file plus REPAIRBOT_<SECTION>__<KEY> environment overrides."""
from __future__ import annotations

import logging
import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from dispatch.statuses import TRADES as TRADE_KEYS


class ServiceSettings(BaseModel):
    public_url: str = "http://127.0.0.1:8080"
    timezone: str = "Asia/Shanghai"
    api_tokens: list[SecretStr] = []
    # Signs photo URLs; empty means one is generated and kept in the database on first start.
    secret_key: SecretStr = SecretStr("")
    property: str = "default"
    # Mount the simulator (and, with no platform configured, its demo WeCom/Feishu) beside a configuration.
    demo: bool = False
    # /metrics on its own listener (then not on the main port) and/or behind a bearer token.
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_token: SecretStr = SecretStr("")


class DatabaseSettings(BaseModel):
    url: str = "sqlite+aiosqlite:///repairbot.db"
    pool_size: int = 10


class RedisSettings(BaseModel):
    url: str = ""
    pool_size: int = 50
    prefix: str = "repairbot"  # key prefix, so several installations can share one Redis


class IntakeSettings(BaseModel):
    draft_ttl: int = Field(1800, gt=0, description="seconds an idle draft lives (default 30 min)")
    duplicate_window: int = Field(86400, gt=0, description="BR-4: seconds back to look for the same fault")
    rules_file: str = ""  # empty: the packaged conversations/rules.toml
    max_photos: int = Field(9, gt=0)
    max_photo_bytes: int = Field(10 * 1024 * 1024, gt=0)
    max_recordings: int = Field(5, gt=0, description="voice notes kept with one report")
    max_voice_bytes: int = Field(5 * 1024 * 1024, gt=0, description="largest voice note kept, in bytes")
    # Without Redis, conversations are held in the process: the least recently active go past this.
    max_conversations: int = Field(100_000, gt=0, description="in-memory conversations held at most")


class MediaSettings(BaseModel):
    dir: str = "media"
    url_ttl: int = 7 * 86400


class InboxSettings(BaseModel):
    # A failing event is retried with back-off this long before it is set aside (a database restart or
    # a network cut of several minutes must not lose a resident's message).
    retry_for: int = Field(600, gt=0, description="seconds a failing inbox event is retried before set aside")


class OutboxSettings(BaseModel):
    # Transient platform failures (5xx, rate limits, timeouts) are retried this long; permanent ones never.
    retry_for: int = Field(3600, gt=0, description="seconds a transient send failure is retried before dead")


class RetentionSettings(BaseModel):
    dead_letters: int = Field(30 * 86400, gt=0, description="seconds set-aside inbox items and dead outbox "
                                                            "rows (decrypted messages, phones) are kept")
    dead_max: int = Field(10_000, gt=0, description="set-aside inbox items kept at most (newest kept)")
    sent: int = Field(7 * 86400, gt=0, description="seconds sent outbox rows are kept")
    processed: int = Field(3 * 86400, gt=0, description="seconds processed inbox rows are kept (de-duplication)")
    receipts: int = Field(7 * 86400, gt=0, description="seconds receipts of presses and REST actions are kept "
                                                       "(a retry within them answers as the first did)")
    interval: int = Field(3600, gt=0, description="seconds between pruning rounds")


class WecomSettings(BaseModel):
    corp_id: str
    agent_id: int
    secret: SecretStr
    token: SecretStr
    encoding_aes_key: SecretStr
    api_base: str = "https://qyapi.weixin.qq.com"


class FeishuSettings(BaseModel):
    app_id: str
    app_secret: SecretStr
    verification_token: SecretStr
    encrypt_key: SecretStr = SecretStr("")
    api_base: str = "https://open.feishu.cn"


class WechatMpSettings(BaseModel):
    app_id: str
    secret: SecretStr
    token: SecretStr
    encoding_aes_key: SecretStr = SecretStr("")
    api_base: str = "https://api.weixin.qq.com"


class SlaSettings(BaseModel):
    emergency_respond: int = 900     # BR-9
    emergency_finish: int = 7200     # BR-9
    unit_arrive: int = 1200          # BR-10
    # No rule names these two (0 turns a clock off; which clock applies to which ticket: dispatch/clocks.py).
    # BR-10 puts a technician inside a unit 20 min after the report, which takes a 接单 before it: a daily
    # ticket's is due by then too, a public one's alike, so an unowned daily ticket escalates the same way.
    daily_respond: int = 1200
    public_arrive: int = 0           # public-area arrival has no figure of its own: respond and finish cover it
    daily_finish: int = 86400
    complaint_reply: int = 86400     # BR-27
    scan_interval: int = 30
    reescalate_after: int = Field(3600, ge=60)   # an acknowledged alert whose clock still runs is raised again


class TradeSettings(BaseModel):
    key: str
    name: str
    wecom_chat_id: str = ""
    feishu_chat_id: str = ""

    @field_validator("key")
    @classmethod
    def _known_trade(cls, v: str) -> str:
        if v not in TRADE_KEYS:
            raise ValueError(f"unknown trade key {v!r}; use one of {', '.join(TRADE_KEYS)}")
        return v


class StaffSettings(BaseModel):
    name: str
    # dispatch/permissions.py ROLES: what each may do is its table
    role: Literal["technician", "supervisor", "manager", "director", "leadership", "desk", "control", "housekeeper",
                  "finance"]
    trades: list[str] = []
    phone: str = ""
    wecom_userid: str = ""
    feishu_open_id: str = ""
    sim_user: str = ""  # the simulator's user id, for demos and tests


class PriceSettings(BaseModel):
    """`[[prices]]`: the price list a technician quotes from (BR-13)."""
    key: str
    name: str
    amount: Decimal = Field(ge=0, le=1_000_000)   # 元
    trade: str = ""


class MaterialSettings(BaseModel):
    """`[[materials]]`: what a technician records at completion (BR-17)."""
    key: str
    name: str
    unit: str = ""       # "" reads as the default unit of templates (labels)


class LifecycleSettings(BaseModel):
    """`[lifecycle]`: seconds and thresholds of a ticket's life after 接单 (defaults: the business rules)."""
    signoff_wait: int = Field(86400, ge=60)      # BR-21
    survey_reminder: int = Field(86400, ge=60)   # BR-26
    survey_lapse: int = Field(172800, ge=60)
    warranty_days: int = Field(90, ge=0)         # BR-24
    leadership_waiver_from: Decimal = Field(Decimal("500"), ge=0)   # BR-15
    followup_share: float = Field(0.6, ge=0, le=1)                  # BR-25


class DutySettings(BaseModel):
    """`[duty]` (BR-3): the front desk's hours on a working day, central control's the rest of the day; the
    housekeeper on duty holds the front desk's hours on weekends and public holidays (dispatch/duty.py)."""
    model_config = ConfigDict(extra="forbid")   # a misspelt key would silently keep the default hours
    front_desk: str = "09:00-18:00"
    central_control: str = "18:00-09:00"

    @field_validator("front_desk", "central_control")
    @classmethod
    def _hours(cls, v: str) -> str:
        from dispatch.duty import parse_hours
        parse_hours(v)  # ValueError: not HH:MM-HH:MM
        return v.strip()

    @model_validator(mode="after")
    def _whole_day(self) -> "DutySettings":
        from dispatch.duty import day_hours
        day_hours(self.front_desk, self.central_control)  # ValueError names the key and the expected value
        return self


class EscalationStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: str          # "50%" of the clock's allowance, "100%", or "+30m" / "+2h" / "+90s" after it runs out
    notify: Literal["assignee", "supervisor", "manager", "director"]

    @field_validator("at")
    @classmethod
    def _at(cls, v: str) -> str:
        from dispatch.escalation import step_offset
        step_offset(v, 3600)   # ValueError names the expected forms
        return v.strip()


class EscalationSettings(BaseModel):
    """`[[escalation]]`: who hears, and when, as a clock of a kind of ticket runs out (dispatch/escalation.py)."""
    model_config = ConfigDict(extra="forbid")
    category: Literal["emergency", "daily", "complaint", "*"] = "*"
    clock: Literal["respond", "arrive", "finish", "reply"]
    steps: list[EscalationStep] = Field(min_length=1, max_length=8)


class DigestSettings(BaseModel):
    """`[digests]` (BR-22, BR-28, BR-30): when the daily digests and the weekly summary go to the alerts group,
    in the service's time zone; `handover` sends a handover at each desk change (dispatch/digests.py)."""
    model_config = ConfigDict(extra="forbid")   # a misspelt key would silently keep the default time
    completed: str = "17:30"       # BR-22: the tickets completed today
    unfinished: str = "17:40"      # BR-22: the unfinished ones, with their reasons
    weekly: str = "Mon 09:00"      # BR-28: last week's figures
    handover: bool = True          # BR-30: at each desk change ([duty])

    @field_validator("completed", "unfinished")
    @classmethod
    def _time(cls, v: str) -> str:
        from dispatch.digests import parse_time
        parse_time(v)  # ValueError names the expected form
        return v.strip()

    @field_validator("weekly")
    @classmethod
    def _weekly(cls, v: str) -> str:
        from dispatch.digests import parse_weekly
        parse_weekly(v)
        return " ".join(v.split())

    @model_validator(mode="after")
    def _order(self) -> "DigestSettings":
        from dispatch.digests import parse_time
        if parse_time(self.unfinished) < parse_time(self.completed):
            raise ValueError(f"unfinished {self.unfinished!r} must not come before completed {self.completed!r}: "
                             "the unfinished list follows the completed one (BR-22: 17:30, then 17:40)")
        return self


class AlertSettings(BaseModel):
    wecom_chat_id: str = ""
    feishu_chat_id: str = ""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REPAIRBOT_", env_nested_delimiter="__", extra="forbid", case_sensitive=False,
    )

    service: ServiceSettings = ServiceSettings()
    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    intake: IntakeSettings = IntakeSettings()
    media: MediaSettings = MediaSettings()
    sla: SlaSettings = SlaSettings()
    inbox: InboxSettings = InboxSettings()
    outbox: OutboxSettings = OutboxSettings()
    retention: RetentionSettings = RetentionSettings()
    wecom: WecomSettings | None = None
    feishu: FeishuSettings | None = None
    wechat_mp: WechatMpSettings | None = None
    trades: list[TradeSettings] = []
    staff: list[StaffSettings] = []
    alerts: AlertSettings = AlertSettings()
    escalation: list[EscalationSettings] = []
    prices: list[PriceSettings] = []
    materials: list[MaterialSettings] = []
    lifecycle: LifecycleSettings = LifecycleSettings()
    duty: DutySettings = DutySettings()
    digests: DigestSettings = DigestSettings()
    demo: bool = False  # deprecated alias of [service] demo
    # True when a configuration file or a REPAIRBOT_<SECTION>__<KEY> variable was given (see load_settings).
    _configured: bool = PrivateAttr(False)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment wins over the file, which arrives through init kwargs (see load_settings).
        return (env_settings, init_settings)

    @property
    def platforms(self) -> list[str]:
        return [name for name in ("wecom", "feishu", "wechat_mp") if getattr(self, name) is not None]

    @property
    def configured(self) -> bool:
        """Started with a configuration (file or environment), not as the zero-config demo."""
        return self._configured

    @property
    def demo_mode(self) -> bool:
        """`--demo` / `[service] demo = true` (or the deprecated top-level `demo`)."""
        return self.demo or self.service.demo

    @property
    def simulator_enabled(self) -> bool:
        """The simulator mounts with no configuration at all, or when asked for explicitly."""
        return self.demo_mode or (not self.configured and not self.platforms)


class ConfigError(Exception):
    """A configuration that cannot be used; the message names the offending key in plain words."""


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"{key}: {msg}")
    return "\n".join(lines)


def load_settings(path: str | os.PathLike | None = None, **overrides: Any) -> Settings:
    """Read the TOML file (argument, else REPAIRBOT_CONFIG, else none) and apply env overrides."""
    path = path or os.environ.get("REPAIRBOT_CONFIG") or None
    # Keyword overrides (the tests') do not count: only what an operator can give makes a configuration.
    configured = bool(path) or _configured_by_environment()
    data: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{p}: not valid TOML: {e}") from None
        if "demo" in data:
            logging.getLogger("repairbot").warning("%s: top-level `demo` is deprecated; use [service] demo", p)
    data.update(overrides)
    try:
        settings = Settings(**data)
    except ValidationError as e:
        raise ConfigError(_describe(e)) from None
    _check_references(settings)
    settings._configured = configured
    return settings


def _configured_by_environment() -> bool:
    """Any REPAIRBOT_<FIELD> or REPAIRBOT_<FIELD>__<KEY> variable (not REPAIRBOT_TEST_*, REPAIRBOT_CONFIG)."""
    fields = {name.upper() for name in Settings.model_fields}
    for var in os.environ:
        name = var.upper()
        if name.startswith("REPAIRBOT_") and name[len("REPAIRBOT_"):].split("__", 1)[0] in fields:
            return True
    return False


def _check_references(s: Settings) -> None:
    known = {t.key for t in s.trades} | set(TRADE_KEYS)
    problems = []
    accounts: dict[tuple[str, str], str] = {}
    for i, person in enumerate(s.staff):
        for t in person.trades:
            if t not in known:
                problems.append(f"staff[{i}].trades: unknown trade {t!r} ({person.name})")
        for key in ("wecom_userid", "feishu_open_id", "sim_user"):
            value = getattr(person, key)
            if value and (key, value) in accounts:  # one account is one person (the start-up sync needs it)
                problems.append(f"staff[{i}].{key}: {value!r} is already {accounts[key, value]}'s")
            accounts.setdefault((key, value), person.name)
    if s.database.url.split(":", 1)[0] not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        problems.append("database.url: use sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB")
    if s.redis.url and not s.redis.url.startswith(("redis://", "rediss://", "unix://")):
        problems.append("redis.url: must start with redis://, rediss:// or unix://")
    if problems:
        raise ConfigError("\n".join(problems))


def policy_of(settings: Settings, channels: frozenset[str] = frozenset()):
    """The domain's view of `[[prices]]`, `[[materials]]` and `[lifecycle]` (dispatch/policy.py)."""
    from dispatch.escalation import Chain, Step
    from dispatch.policy import Material, Policy, Price

    life = settings.lifecycle
    return Policy(
        prices=tuple(Price(p.key, p.name, p.amount, p.trade) for p in settings.prices),
        materials=tuple(Material(m.key, m.name, m.unit) for m in settings.materials),
        signoff_wait=life.signoff_wait, survey_reminder=life.survey_reminder, survey_lapse=life.survey_lapse,
        warranty_days=life.warranty_days, leadership_waiver_from=life.leadership_waiver_from,
        followup_share=life.followup_share, channels=channels, tz=settings.service.timezone,
        sla=settings.sla, reescalate_after=settings.sla.reescalate_after,
        chains=tuple(Chain(e.category, e.clock, tuple(Step(s.at, s.notify) for s in e.steps))
                     for e in settings.escalation),
        alert_chats=tuple((c, chat) for c, chat in (("wecom", settings.alerts.wecom_chat_id),
                                                     ("feishu", settings.alerts.feishu_chat_id)) if chat),
        duty=duty_of(settings))


def duty_of(settings: Settings):
    """The domain's view of `[duty]` and `[service] timezone` (dispatch/duty.py)."""
    from dispatch.duty import Duty

    return Duty.of(settings.duty.front_desk, settings.duty.central_control, settings.service.timezone,
                   settings.service.property)


def schedule_of(settings: Settings):
    """The domain's view of `[digests]` (dispatch/digests.py)."""
    from dispatch.digests import Schedule

    d = settings.digests
    return Schedule.of(d.completed, d.unfinished, d.weekly, d.handover)
