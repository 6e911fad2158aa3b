"""SQLAlchemy models: tickets and their audit trail, photos, people, trades, the outbox, the calendar."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON, BigInteger, DateTime, ForeignKey, Integer, Numeric, String, Text, TypeDecorator,
    UniqueConstraint, Index, text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use the injected clock")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


# A BIGINT on PostgreSQL that SQLite still treats as its autoincrementing rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Person(Base):
    """A resident or a member of staff; one row however many platforms they use."""

    __tablename__ = "persons"
    __table_args__ = (Index("ix_persons_role", "role"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    property: Mapped[str] = mapped_column(String(64), default="default")
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), default="resident")
    phone: Mapped[str] = mapped_column(String(20), default="")
    trades: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    identities: Mapped[list[PersonIdentity]] = relationship(back_populates="person", lazy="selectin")


class PersonIdentity(Base):
    """One platform account of a person (WeCom userid, Feishu open_id, Official Account openid, sim user)."""

    __tablename__ = "person_identities"
    __table_args__ = (UniqueConstraint("platform", "external_id", name="uq_identity_platform_external"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    person: Mapped[Person] = relationship(back_populates="identities")


class Trade(Base):
    """A trade (工种, BR-8) and where its technicians are reached."""

    __tablename__ = "trades"
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    wecom_chat_id: Mapped[str] = mapped_column(String(128), default="")
    feishu_chat_id: Mapped[str] = mapped_column(String(128), default="")


class TicketCounter(Base):
    """The daily sequence behind ticket numbers BX<yyyymmdd>-<nnnn>."""

    __tablename__ = "ticket_counters"
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Ticket(Base):
    """工程维修单: one ticket, four audiences (BR-6)."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_dup", "location_key", "trade", "created_at"),
        Index("ix_tickets_status_created", "status", "created_at"),
        Index("ix_tickets_reporter", "reporter_channel", "reporter_user"),
        # One filing per key: a redelivered 「确认」 or a retried staff entry finds the ticket it filed.
        Index("uq_tickets_filing_key", "filing_key", unique=True),
        # A resident's answer (同意, 已修好, a score) finds the ticket that asked them.
        Index("ix_tickets_awaiting", "reporter_channel", "reporter_user", "awaiting"),
        Index("ix_tickets_assignee_status", "assignee_id", "status"),
        # Newest first and every date range or report period (the console's list, dispatch/reports.py), and the
        # list by trade or by building (bench/console.py: the filtered list's p95 710 ms -> 49 ms at 1,000,000).
        Index("ix_tickets_created", "created_at", "id"),
        Index("ix_tickets_trade_created", "trade", "created_at"),
        Index("ix_tickets_building_created", "building", "created_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    property: Mapped[str] = mapped_column(String(64), default="default")
    status: Mapped[str] = mapped_column(String(16))
    area: Mapped[str] = mapped_column(String(8))
    location: Mapped[str] = mapped_column(String(200))
    location_key: Mapped[str] = mapped_column(String(200))
    # The building the place is in: from the estate's unit list, else parsed from the location; "" unknown.
    building: Mapped[str] = mapped_column(String(64), default="", server_default="")
    reporter_name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(12))
    trade: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    reporter_channel: Mapped[str] = mapped_column(String(16), default="")
    reporter_chat: Mapped[str] = mapped_column(String(128), default="")
    reporter_user: Mapped[str] = mapped_column(String(128), default="")
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), nullable=True)
    visit_text: Mapped[str] = mapped_column(String(64), default="")
    visit_at: Mapped[datetime | None] = mapped_column(nullable=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), nullable=True)
    created_at: Mapped[datetime]
    dispatched_at: Mapped[datetime | None] = mapped_column(nullable=True)
    accepted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    arrived_at: Mapped[datetime | None] = mapped_column(nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    quote: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), nullable=True)
    fee: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), nullable=True)
    rating: Mapped[int | None] = mapped_column(nullable=True)   # the survey's overall score 1-5 (BR-26)
    version: Mapped[int] = mapped_column(default=1)
    # ---- after 接单 (issue 10; BR-11 to BR-27) ------------------------------------------------------------
    # What the resident is being asked and must answer: "" | quote | visit | signoff | survey (resident.py).
    awaiting: Mapped[str] = mapped_column(String(12), default="", server_default="")
    quote_items: Mapped[list[Any]] = mapped_column(default=list)      # [{"name", "amount" (str 元), "key"?}]
    quote_status: Mapped[str] = mapped_column(String(12), default="", server_default="")  # "" pending agreed declined
    quote_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    waiver: Mapped[dict[str, Any]] = mapped_column(default=dict)       # BR-15/16: amount payer reason status approver
    materials: Mapped[list[Any]] = mapped_column(default=list)         # BR-17: [{"name", "qty"}]
    work_minutes: Mapped[int | None] = mapped_column(nullable=True)
    completion_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    hold_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")
    hold_until: Mapped[datetime | None] = mapped_column(nullable=True)
    held_from: Mapped[str] = mapped_column(String(16), default="", server_default="")   # the status resume returns to
    proposed_visit_text: Mapped[str] = mapped_column(String(64), default="", server_default="")  # 改约, unconfirmed
    proposed_visit_at: Mapped[datetime | None] = mapped_column(nullable=True)
    signoff: Mapped[str] = mapped_column(String(12), default="", server_default="")  # "" fixed not_fixed auto verified
    signoff_due_at: Mapped[datetime | None] = mapped_column(nullable=True)  # no answer by then: accepted (BR-21)
    verified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    survey: Mapped[dict[str, Any]] = mapped_column(default=dict)       # {"status", "asked_at", "quality"...}
    warranty_of: Mapped[str | None] = mapped_column(String(20), nullable=True)  # BR-24: the first job's number
    # Idempotency key of the filing (conversation + confirming message id, or a REST Idempotency-Key);
    # NULL when the caller had none.
    filing_key: Mapped[str | None] = mapped_column(String(255), nullable=True)

    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", lazy="selectin")
    # Every file kept with the ticket, by `Photo.kind`: the report's photos, the after-photos and the
    # resident's voice notes (one row type, so filing links them all in one statement).
    photos: Mapped[list[Photo]] = relationship(order_by="Photo.id", lazy="selectin")
    assignee: Mapped[Person | None] = relationship(foreign_keys=[assignee_id], lazy="selectin")


def photos_of(ticket: Ticket, kind: str) -> list[Photo]:
    """A ticket's files of one kind: "report" (the resident's photos), "after" (the technician's), or "voice"
    (the resident's voice notes, kept as recorded for staff to hear: issue 12)."""
    return [p for p in ticket.photos if p.kind == kind]


class Unit(Base):
    """A room or a public place of the estate's own unit list (`repairbot units import`)."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("property", "key", name="uq_units_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    property: Mapped[str] = mapped_column(String(64), default="default")
    kind: Mapped[str] = mapped_column(String(8))          # unit | public
    building: Mapped[str] = mapped_column(String(64))     # as the list writes it, normalised ("3栋")
    label: Mapped[str] = mapped_column(String(200))       # the place as residents are shown it
    key: Mapped[str] = mapped_column(String(200))         # normalize_location(label)


class UnitName(Base):
    """Every key a unit is known by (its own and its aliases'): how a resident's wording finds it."""

    __tablename__ = "unit_names"
    __table_args__ = (UniqueConstraint("property", "key", name="uq_unit_names_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    property: Mapped[str] = mapped_column(String(64), default="default")
    key: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)


class TicketEvent(Base):
    """The audit trail: every change of a ticket, who made it and through which channel."""

    __tablename__ = "ticket_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str] = mapped_column(String(16), default="")
    to_status: Mapped[str] = mapped_column(String(16), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ticket: Mapped[Ticket] = relationship(back_populates="events")


class TicketWatcher(Base):
    """Someone kept informed about a ticket: a second reporter of the same fault (BR-4)."""

    __tablename__ = "ticket_watchers"
    __table_args__ = (UniqueConstraint("ticket_id", "channel", "user_id", name="uq_watcher"),
                      Index("ix_ticket_watchers_user", "channel", "user_id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(128), default="")
    user_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class Photo(Base):
    """A photo or a voice note a person sent, stored at once (platform media expires) and linked to its ticket."""

    __tablename__ = "photos"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True, index=True)
    channel: Mapped[str] = mapped_column(String(16))
    uploader: Mapped[str] = mapped_column(String(128))
    path: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(8), default="report", server_default="report")  # report after voice


class Outbox(Base):
    """A message recorded in the same transaction as the change that implies it, then delivered."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),
                      Index("ix_outbox_recipient", "channel", "recipient", "status"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending sending sent dead undeliverable
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    platform_message_id: Mapped[str] = mapped_column(String(128), default="")
    claimed_by: Mapped[str] = mapped_column(String(64), default="", server_default="")  # the lease's owner
    failing_since: Mapped[datetime | None] = mapped_column(nullable=True)  # start of the current failures


class ActionReceipt(Base):
    """A card press or REST action already run, by its platform or client id: a retry answers with this."""

    __tablename__ = "action_receipts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    action: Mapped[str] = mapped_column(String(16))
    ticket: Mapped[str] = mapped_column(String(20), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="")
    holder: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]


class KeyValue(Base):
    """Small service-wide values that must survive restarts (generated secrets, sync cursors)."""

    __tablename__ = "kv"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class DigestRun(Base):
    """A digest sent (BR-22, BR-28, BR-30), one row per period: the unique key is what makes it once, whatever
    the number of processes (dispatch/digests.py). `epoch` marks the first sweep: nothing due before it is sent."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("period", name="uq_digest_runs_period"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))      # completed | unfinished | handover | weekly | epoch
    period: Mapped[str] = mapped_column(String(64))    # completed:2026-11-30, handover:2026-11-27T18:00, weekly:2026-W49
    created_at: Mapped[datetime]


class CalendarDay(Base):
    """One day of mainland China's working calendar (BR-3: who holds the desk on it), seeded from the
    chinesecalendar package, or from weekends alone for a year it does not cover; staff may correct a day."""

    __tablename__ = "calendar_days"
    day: Mapped[date] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))             # workday | makeup_workday | holiday | weekend
    name: Mapped[str] = mapped_column(String(64), default="")  # the holiday a holiday or make-up day belongs to
    source: Mapped[str] = mapped_column(String(8))            # package | weekends | manual (manual survives seeding)
    updated_at: Mapped[datetime]


class CalendarYear(Base):
    """A seeded year of the calendar: provisional while only weekends are known (no package data for it
    and no operator has declared the hand-entered days final)."""

    __tablename__ = "calendar_years"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    provisional: Mapped[bool]
    package_version: Mapped[str] = mapped_column(String(16), default="")   # "" when the package lacks the year
    seeded_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None] = mapped_column(nullable=True)


class InboxItem(Base):
    """A platform event accepted by a webhook and not yet processed (the embedded default's inbox)."""

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("platform", "dedupe_id", name="uq_inbox_dedupe"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    dedupe_id: Mapped[str] = mapped_column(String(160))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    created_at: Mapped[datetime]


class CardCopy(Base):
    """One delivered copy of a ticket's card, so every copy can be re-rendered after a change."""

    __tablename__ = "card_copies"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient_user: Mapped[str] = mapped_column(String(128), default="")
    recipient_chat: Mapped[str] = mapped_column(String(128), default="")
    audience: Mapped[str] = mapped_column(String(16))      # technician | group
    message_id: Mapped[str] = mapped_column(String(128), default="")
    handle: Mapped[str] = mapped_column(String(255), default="")  # platform token to rewrite it (WeCom response_code)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Timer(Base):
    """Something that must happen at a time (auto sign-off, the survey's reminder, an escalation step): the
    injected clock decides when it is due; a worker leases it (`claimed_by`, `lease_until`) and runs it once
    (`status` done), or the change that made it moot cancels it in its own transaction. `key` names it, so
    scheduling it again writes nothing twice. A timer about no ticket (a complaint's reply clock) has none."""

    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_pending", "due_at", postgresql_where=text("status = 'pending'"),
                            sqlite_where=text("status = 'pending'")),
                      UniqueConstraint("key", name="uq_timers_key"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(160))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True,
                                                  nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default="pending", server_default="pending")  # pending | done | cancelled
    claimed_by: Mapped[str] = mapped_column(String(64), default="", server_default="")
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Followup(Base):
    """A completed ticket picked for a staff follow-up call (回访, BR-25), and the call once made."""

    __tablename__ = "followups"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    reason: Mapped[str] = mapped_column(String(12))          # unit | sample
    selected_at: Mapped[datetime]
    called_at: Mapped[datetime | None] = mapped_column(nullable=True)
    called_by: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="")     # reached | unreachable
    note: Mapped[str] = mapped_column(Text, default="")


class Complaint(Base):
    """投诉 (BR-27): a resident's complaint, linked to their ticket, tracked until staff reply."""

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_status", "status", "created_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)      # TS<yyyymmdd>-<nnnn>
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True)
    channel: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | replied
    created_at: Mapped[datetime]
    replied_at: Mapped[datetime | None] = mapped_column(nullable=True)
    replied_by: Mapped[str] = mapped_column(String(64), default="")
    reply: Mapped[str] = mapped_column(Text, default="")


class ConsoleLogin(Base):
    """A member of staff's password for the web console (`repairbot passwd`): an argon2 hash, never the password."""

    __tablename__ = "console_logins"
    person_id: Mapped[int] = mapped_column(BigId, ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    set_at: Mapped[datetime]
