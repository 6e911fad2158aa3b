"""Cards leave the outbox when the transaction that wrote them commits, not at the outbox loop's next poll."""
from __future__ import annotations

import asyncio

import pytest

from sqlalchemy import func, select

import bot.runtime
from bot.services import services_of
from dispatch import outbox
from store.models import CardCopy, Outbox
from dispatch.statements import NUMBER
from tests.conftest import Sim, auth

REPORT = {"description": "水管爆了", "location": "3栋2单元1502", "reporter_name": "王女士", "phone": "13812345678"}


@pytest.fixture
async def running(backend, make_settings, clock, monkeypatch, aiohttp_client):
    """The service with its background loops, whose outbox poll would take an hour: only a wake-up sends.

    `backend` comes first so that it is torn down last: its PostgreSQL clean-up must not run (blocking the
    event loop) while the app's loops are still alive and inside a transaction."""
    from bot.app import create_app

    monkeypatch.setattr(bot.runtime, "OUTBOX_POLL", 3600.0)
    app = create_app(make_settings(), clock=clock, run_background=True, redis_prefix=backend.prefix)
    return await aiohttp_client(app)


async def _rows(client, kind: str) -> int:
    async with services_of(client.app).sessions() as s:
        return (await s.execute(select(func.count()).select_from(Outbox).where(Outbox.kind == kind))).scalar_one()


async def _cards(client, at_least: int, seconds: float = 5.0) -> list[dict]:
    """The cards the simulator's channel received, waiting (in real time, the clock stands still) for them."""
    log = services_of(client.app).sim_log
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        cards = [i for i in log.since(0) if "card" in i]
        if len(cards) >= at_least or loop.time() > deadline:
            return cards
        await asyncio.sleep(0.01)


async def _copies(client, at_least: int, seconds: float = 5.0) -> int:
    """The card copies recorded, waiting (in real time) for `at_least` of them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        async with services_of(client.app).sessions() as s:
            n = (await s.execute(select(func.count()).select_from(CardCopy))).scalar_one()
        if n >= at_least or loop.time() > deadline:
            return n
        await asyncio.sleep(0.01)


async def test_a_filed_tickets_cards_are_sent_when_its_transaction_commits(running, clock):
    before = clock.now()
    resp = await running.post("/api/v1/tickets", headers=auth(), json=REPORT)
    assert resp.status == 201
    number = (await resp.json())["number"]
    expected = await _rows(running, outbox.CARD)
    cards = await _cards(running, expected)
    assert expected and len(cards) == expected and all(number in c["text"] for c in cards)
    assert clock.now() == before  # no time passed: the commit woke the loop


async def test_a_report_filed_from_chat_sends_its_cards_and_notices_at_once(running, clock):
    """A chat step files on PostgreSQL in one statement, committed as it runs (no step transaction): the wake-up
    still fires, and every message written before the number was known carries the ticket's real number."""
    import re

    before = clock.now()
    resident = Sim(running)
    await resident.say("wake-1", "3栋2单元1502 卫生间水管爆了 王女士 13812345678")
    number = re.search(r"BX\d{8}-\d{4}", (await resident.say("wake-1", "确认"))[0]).group()
    expected = await _rows(running, outbox.CARD)
    cards = await _cards(running, expected)
    assert expected and len(cards) == expected and all(number in c["text"] for c in cards)
    assert clock.now() == before  # no time passed: the filing's own commit woke the loop
    async with services_of(running.app).sessions() as s:
        rows = (await s.execute(select(Outbox.dedupe_key, Outbox.payload))).all()
    assert rows and all(key.startswith(number) and payload["ticket"] == number for key, payload in rows)
    assert not any(NUMBER in key or NUMBER in str(payload) for key, payload in rows)


async def test_an_accepted_tickets_card_updates_leave_at_once(running):
    resp = await running.post("/api/v1/tickets", headers=auth(), json=REPORT)
    number = (await resp.json())["number"]
    sent = await _cards(running, await _rows(running, outbox.CARD))
    technician = next(c["user"] for c in sent if c["chat"] == c["user"])  # a 1:1 card: a technician
    # A card copy is recorded just after its delivery: only recorded copies can be rewritten.
    assert await _copies(running, len(sent)) == len(sent)
    resp = await running.post(f"/api/v1/tickets/{number}/actions/accept", headers=auth(),
                              json={"actor": {"channel": "sim", "user": technician}})
    assert resp.status == 200, await resp.text()
    updates = await _rows(running, outbox.CARD_UPDATE)
    cards = await _cards(running, len(sent) + updates)  # every copy re-rendered
    assert updates == len(sent) and len(cards) == 2 * len(sent)
    # The taker's copy is now their job card; every other copy is taken, without buttons.
    [job] = [c for c in cards[len(sent):] if c["user"] == technician and c["chat"] == technician]
    assert [label for label, _ in job["card"]["buttons"]] == ["已到达", "改约", "转派"]
    assert all(c["card"]["status"] and not c["card"]["buttons"] for c in cards[len(sent):] if c is not job)
