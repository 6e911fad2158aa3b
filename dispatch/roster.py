"""Start-up sync: the configuration's [[trades]] and [[staff]] become exactly the database's trades and staff."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, Sequence

from sqlalchemy import delete, false, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.people import FORMER, RESIDENT
from store.models import KeyValue, Person, PersonIdentity, Trade

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key every process of an installation takes around the sync, so web and workers
# starting in the same second sync one after the other ("repair" in ASCII).
SYNC_LOCK = 0x726570616972
# Where the last sync's staff came from: "demo" (the simulator's cast) or "configuration".
ORIGIN_KEY = "staff_origin"

IDENTITIES = PersonIdentity.__table__


class TradeEntry(Protocol):
    key: str
    name: str
    wecom_chat_id: str
    feishu_chat_id: str


class StaffEntry(Protocol):
    name: str
    role: str
    trades: list[str]
    phone: str
    wecom_userid: str
    feishu_open_id: str
    sim_user: str


@dataclass
class SyncReport:
    """What one sync changed (names of people); empty when the database already matched."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)      # "platform:id" taken over from another person's row
    trades: bool = False

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.retired or self.moved or self.trades)


def identities_of(s: StaffEntry) -> list[tuple[str, str]]:
    return [(p, v) for p, v in (("wecom", s.wecom_userid), ("feishu", s.feishu_open_id),
                                ("sim", getattr(s, "sim_user", ""))) if v]


async def sync_configuration(session: AsyncSession, trades: Sequence[TradeEntry], staff: Sequence[StaffEntry],
                             now: datetime, property: str = "default", *, demo: bool = False) -> SyncReport:
    """Make the database's trades and staff match the configuration, in the caller's transaction.

    Safe when several processes start at once: on PostgreSQL they take one transaction-level advisory
    lock, so the second sees what the first committed and changes nothing. Run twice, it changes nothing.
    A person the configuration no longer names keeps their row (the audit trail and their tickets point
    at it) but becomes `former`, with no trades and no platform identities: no cards reach them and
    their presses are refused. Residents are never changed, except that an account the configuration
    gives to a member of staff moves to that member's row. `demo`: the staff are the simulator's cast;
    the first configured sync after a demo one retires the whole cast rather than matching anyone in it.
    """
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SYNC_LOCK})
    report = SyncReport()
    report.trades = await _sync_trades(session, trades)
    origin = "demo" if demo else "configuration"
    previous = (await session.execute(select(KeyValue).where(KeyValue.key == ORIGIN_KEY))).scalar_one_or_none()
    await _sync_staff(session, staff, now, property, report,
                      forget_all=previous is not None and previous.value == "demo" and not demo)
    if previous is None:
        session.add(KeyValue(key=ORIGIN_KEY, value=origin))
    elif previous.value != origin:
        previous.value = origin
    await session.flush()
    return report


async def _sync_trades(session: AsyncSession, trades: Sequence[TradeEntry]) -> bool:
    """Upsert each trade (changing a row only when it differs) and drop trades no longer configured."""
    changed = False
    if trades:
        insert_ = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        stmt = insert_(Trade).values([{"key": t.key, "name": t.name, "wecom_chat_id": t.wecom_chat_id,
                                       "feishu_chat_id": t.feishu_chat_id} for t in trades])
        new = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=[Trade.key],
            set_={"name": new.name, "wecom_chat_id": new.wecom_chat_id, "feishu_chat_id": new.feishu_chat_id},
            where=or_(Trade.name != new.name, Trade.wecom_chat_id != new.wecom_chat_id,
                      Trade.feishu_chat_id != new.feishu_chat_id))
        changed = (await session.execute(stmt)).rowcount > 0
    gone = await session.execute(delete(Trade).where(Trade.key.not_in([t.key for t in trades])))
    return changed or gone.rowcount > 0


async def _sync_staff(session: AsyncSession, staff: Sequence[StaffEntry], now: datetime, property: str,
                      report: SyncReport, *, forget_all: bool) -> None:
    rows = list((await session.execute(
        select(Person).where(Person.property == property, Person.role != RESIDENT).order_by(Person.id)
    )).scalars())
    staff_ids = {p.id for p in rows}
    wanted = {ident for s in staff for ident in identities_of(s)}
    # Every identity that matters: those of staff rows, and those the configuration names (maybe a resident's).
    held = {(platform, ext): (ident_id, person_id) for ident_id, person_id, platform, ext in (await session.execute(
        select(IDENTITIES.c.id, IDENTITIES.c.person_id, IDENTITIES.c.platform, IDENTITIES.c.external_id).where(
            or_(IDENTITIES.c.person_id.in_(staff_ids) if staff_ids else false(),
                IDENTITIES.c.external_id.in_({ext for _, ext in wanted}) if wanted else false()))
    )).all() if (platform, ext) in wanted or person_id in staff_ids}
    matchable = {} if forget_all else {p.id: p for p in rows}
    claimed: set[int] = set()
    owner: dict[tuple[str, str], int] = {}
    for s in staff:
        idents = identities_of(s)
        person = next((matchable[held[i][1]] for i in idents
                       if i in held and held[i][1] in matchable and held[i][1] not in claimed), None)
        if person is None:  # no account of theirs on a staff row: the same name and phone (or a new person)
            person = next((p for p in matchable.values()
                           if p.id not in claimed and (p.name, p.phone) == (s.name, s.phone)), None)
        if person is None:
            person = Person(name=s.name, role=s.role, phone=s.phone, trades=list(s.trades), created_at=now,
                            property=property)
            session.add(person)
            await session.flush()
            report.added.append(s.name)
        elif (person.name, person.role, person.phone, list(person.trades or [])) != (
                s.name, s.role, s.phone, list(s.trades)):
            person.name, person.role, person.phone, person.trades = s.name, s.role, s.phone, list(s.trades)
            report.changed.append(s.name)
        claimed.add(person.id)
        for ident in idents:
            owner[ident] = person.id
    for p in rows:
        if p.id not in claimed and p.role != FORMER:
            p.role, p.trades = FORMER, []
            report.retired.append(p.name)
    await session.flush()
    await _sync_identities(session, held, owner, report)
    if report:
        log.info("staff synced from the configuration: added %s, changed %s, retired %s",
                 report.added, report.changed, report.retired)


async def _sync_identities(session: AsyncSession, held: dict[tuple[str, str], tuple[int, int]],
                           owner: dict[tuple[str, str], int], report: SyncReport) -> None:
    """Each configured account on its person's row; every other account of a staff row removed."""
    stale = [ident_id for ident, (ident_id, _) in held.items() if ident not in owner]
    if stale:
        await session.execute(delete(PersonIdentity).where(PersonIdentity.id.in_(stale)))
    for ident, person_id in owner.items():
        if ident not in held:
            await session.execute(insert(PersonIdentity).values(person_id=person_id, platform=ident[0],
                                                               external_id=ident[1]))
        elif held[ident][1] != person_id:
            # A resident who wrote to us from this account before (or a retired row): the account is now
            # this member of staff's, their own row and tickets stay as they are.
            log.warning("account %s:%s moves to a member of staff's record", *ident)
            await session.execute(update(PersonIdentity).where(PersonIdentity.id == held[ident][0])
                                  .values(person_id=person_id))
            report.moved.append(f"{ident[0]}:{ident[1]}")
