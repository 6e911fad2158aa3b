"""Retention: dead letters (decrypted messages, phones) expire, the dead list is bounded, handled rows are pruned."""
from __future__ import annotations

from sqlalchemy import func, select

from bot.services import services_of
from relay.inbox import DatabaseInbox
from bot.runtime import prune
from dispatch import outbox
from store.models import InboxItem, Outbox
from tests.conftest import auth
from tests.test_redrive import _dead_row, _set_aside_one
from tests.test_outbox import FlakyMessenger


async def _listed(client) -> tuple[int, int]:
    unprocessed = (await (await client.get("/api/v1/unprocessed", headers=auth())).json())["unprocessed"]
    undelivered = (await (await client.get("/api/v1/undelivered", headers=auth())).json())["undelivered"]
    return len(unprocessed), len(undelivered)


async def test_dead_letters_expire_after_the_retention_and_sent_rows_after_theirs(client, clock):
    app = client.app
    await _set_aside_one(app, "m1", {"text": "王女士 13812345678"})
    await _dead_row(app, "card-1")
    m = FlakyMessenger()
    services_of(app).messengers.register(m)
    async with services_of(app).sessions() as s, s.begin():
        await outbox.enqueue(s, key="sent-1", channel="flaky", kind=outbox.TEXT, user="u2",
                             payload={"text": "已派单"}, now=clock.now())
    await services_of(app).outbox_sender.deliver_due()
    assert await _listed(client) == (1, 1)

    clock.advance(days=8)  # past [retention] sent (7 days), within dead_letters (30 days)
    await prune(services_of(app))
    async with services_of(app).sessions() as s:
        assert sorted(r.status for r in (await s.execute(select(Outbox))).scalars()) == ["dead"]
    assert await _listed(client) == (1, 1)

    clock.advance(days=23)
    await prune(services_of(app))
    assert await _listed(client) == (0, 0)  # the message and the phone are gone with them
    async with services_of(app).sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Outbox))).scalar() == 0


async def test_the_dead_list_keeps_only_the_newest(client, make_settings, clock):
    app = client.app
    services_of(app).settings.retention.dead_max = 3
    ids = [await _set_aside_one(app, f"m{n}", {"n": n}) for n in range(5)]
    await prune(services_of(app))
    assert [i["id"] for i in await services_of(app).inbox.set_aside()] == ids[:1:-1]  # newest first, 3 kept


async def test_processed_inbox_rows_are_pruned_by_age(client, clock):
    app = client.app
    inbox = services_of(app).inbox
    if not isinstance(inbox, DatabaseInbox):  # Redis removes an acknowledged entry at once (XDEL)
        return
    await inbox.offer("wecom", "done-1", {"n": 1})

    async def handle(item):
        pass
    assert await inbox.drain(handle) == 1
    clock.advance(days=2)
    await prune(services_of(app))
    assert await inbox.offer("wecom", "done-1", {"n": 1}) is False  # still de-duplicating retries
    clock.advance(days=2)
    await prune(services_of(app))
    async with services_of(app).sessions() as s:
        assert (await s.execute(select(func.count()).select_from(InboxItem))).scalar() == 0


async def test_press_receipts_are_kept_for_their_retention_then_pruned(client, clock):
    from dispatch.receipts import RECEIPTS
    app = client.app
    async with services_of(app).sessions() as s, s.begin():
        await s.execute(RECEIPTS.insert().values(key="wecom:click-1", action="accept", ticket="BX20261129-0001",
                                                 outcome="ok", holder="", created_at=clock.now()))
    clock.advance(days=6)
    assert (await prune(services_of(app)))["receipts"] == 0  # a retry within the week still answers as the first
    clock.advance(days=2)
    assert (await prune(services_of(app)))["receipts"] == 1
    async with services_of(app).sessions() as s:
        assert (await s.execute(select(func.count()).select_from(RECEIPTS))).scalar() == 0
