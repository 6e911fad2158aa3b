"""One 「确认」 files one ticket, one retried press or REST call acts once (issue 8, item 3)."""
from __future__ import annotations

from contextlib import asynccontextmanager

from sqlalchemy import func, select

from bot.services import services_of
from conversations.messages import InboundMessage
from conversations.storage.base import StateStorage
from store.models import Outbox, Ticket, TicketEvent
from tests.conftest import auth

REPORT = "3栋2单元1502卫生间水管爆了 王女士 13812345678"


class SaveFailsOnce(StateStorage):
    """The engine's storage with its write-back failing once, after the step's database work committed:
    what a Redis error, a lost lock or a process killed at that moment leaves behind."""

    def __init__(self, inner: StateStorage) -> None:
        self.inner, self.failures = inner, 1

    @asynccontextmanager
    async def hold(self, key):
        async with self.inner.hold(key) as held:
            yield held
            if self.failures:
                self.failures -= 1
                raise ConnectionError("state write-back failed")

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def get(self, key): return await self.inner.get(key)
    async def set(self, key, value, ttl): await self.inner.set(key, value, ttl)
    async def delete(self, key): await self.inner.delete(key)
    async def schedule(self, key, due): await self.inner.schedule(key, due)
    async def unschedule(self, key): await self.inner.unschedule(key)
    async def due(self, now, limit=100): return await self.inner.due(now, limit)


async def _count(app, model, *where) -> int:
    async with services_of(app).sessions() as s:
        return (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def test_a_confirmation_redelivered_after_the_state_was_lost_files_nothing_twice(client):
    app = client.app
    engine = services_of(app).conversations
    await engine.handle(InboundMessage("sim", "r", "r", REPORT, message_id="m1"))
    cards_before = await _count(app, Outbox, Outbox.kind == "card")
    engine.deps.storage = failing = SaveFailsOnce(engine.deps.storage)
    confirm = InboundMessage("sim", "r", "r", "确认", message_id="m2")
    try:
        await engine.handle(confirm)
    except ConnectionError:
        pass
    else:
        raise AssertionError("the write-back should have failed")
    assert failing.failures == 0 and await _count(app, Ticket) == 1  # committed before the write-back
    cards = await _count(app, Outbox, Outbox.kind == "card")
    assert cards > cards_before
    again = await engine.handle(confirm)  # the inbox delivers it again
    assert "BX20261129-0001" in again[0].text and "已提交" in again[0].text
    assert await _count(app, Ticket) == 1
    assert await _count(app, Outbox, Outbox.kind == "card") == cards
    assert await _count(app, TicketEvent, TicketEvent.action == "created") == 1
    # The conversation is over: the next message starts afresh rather than filing again.
    assert "BX" not in (await engine.handle(InboundMessage("sim", "r", "r", "确认", message_id="m3")))[0].text
    assert await _count(app, Ticket) == 1


async def test_a_new_confirmation_of_another_report_files_another_ticket(client):
    engine = services_of(client.app).conversations
    for n, place in enumerate(("3栋2单元1502卫生间水管爆了", "5栋1单元301厨房水管爆了")):
        await engine.handle(InboundMessage("sim", "r", "r", f"{place} 王女士 13812345678", message_id=f"a{n}"))
        done = await engine.handle(InboundMessage("sim", "r", "r", "确认", message_id=f"c{n}"))
        assert f"BX20261129-000{n + 1}" in done[0].text
    assert await _count(client.app, Ticket) == 2


STAFF_ENTRY = {"description": "大堂灯不亮", "location": "A座大堂", "area": "public", "reporter_name": "李先生",
               "phone": "13812345678"}


async def test_staff_entry_with_an_idempotency_key_is_filed_once(client):
    headers = {**auth(), "Idempotency-Key": "desk-42"}
    first = await client.post("/api/v1/tickets", json=STAFF_ENTRY, headers=headers)
    assert first.status == 201, await first.text()
    again = await client.post("/api/v1/tickets", json=STAFF_ENTRY, headers=headers)
    assert again.status == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert (await again.json())["number"] == (await first.json())["number"]
    assert await _count(client.app, Ticket) == 1
    other = await client.post("/api/v1/tickets", json=STAFF_ENTRY, headers={**auth(), "Idempotency-Key": "desk-43"})
    assert other.status == 201 and await _count(client.app, Ticket) == 2
    plain = await client.post("/api/v1/tickets", json=STAFF_ENTRY, headers=auth())  # no key: no promise
    assert plain.status == 201 and await _count(client.app, Ticket) == 3


async def test_a_malformed_idempotency_key_is_refused(client):
    for bad in ("", "x" * 201, "含中文"):
        resp = await client.post("/api/v1/tickets", json=STAFF_ENTRY,
                                 headers={**auth(), "Idempotency-Key": bad.encode().decode("latin-1")})
        assert resp.status == 400, bad
        assert (await resp.json())["error"]["field"] == "Idempotency-Key"
    assert await _count(client.app, Ticket) == 0


# --- presses and REST actions ------------------------------------------------------------------------

async def _filed(sim) -> str:
    await sim.say("r1", REPORT)
    return (await sim.say("r1", "确认"))[0].split("单号 ")[1].split()[0]


async def _transfers(app) -> int:
    return await _count(app, TicketEvent, TicketEvent.action == "transfer_requested")


async def _supervisor_notices(app) -> int:
    return await _count(app, Outbox, Outbox.kind == "text", Outbox.recipient == "user:wangzhuguan")


async def test_a_simulator_press_sent_twice_acts_once(sim, client):
    from dispatch.payloads import CardAction

    number = await _filed(sim)
    body = {"user": "zhangsan", "payload": CardAction("transfer", number).encode(), "press_id": "p-1"}
    first = await client.post("/sim/api/press", json=body)
    again = await client.post("/sim/api/press", json=body)
    assert (await first.json())["outcome"] == (await again.json())["outcome"] == "ok"
    assert (await again.json())["replies"][0]["text"] == (await first.json())["replies"][0]["text"]
    assert await _transfers(client.app) == 1
    other = await client.post("/sim/api/press", json={**body, "press_id": "p-2"})  # a second, new press
    assert (await other.json())["outcome"] == "ok" and await _transfers(client.app) == 2


async def test_rest_actions_with_an_idempotency_key_act_once(sim, client):
    number = await _filed(sim)
    url = f"/api/v1/tickets/{number}/actions/decline"
    body = {"actor": {"channel": "sim", "user": "zhangsan"}}
    headers = {**auth(), "Idempotency-Key": "decline-1"}
    first = await client.post(url, json=body, headers=headers)
    assert first.status == 200, await first.text()
    notices = await _supervisor_notices(client.app)
    assert notices == 1
    again = await client.post(url, json=body, headers=headers)
    assert again.status == 200 and (await again.json())["message"] == (await first.json())["message"]
    assert await _count(client.app, TicketEvent, TicketEvent.action == "declined") == 1
    # The same key for another action is a client's mistake: refused, nothing done.
    reused = await client.post(f"/api/v1/tickets/{number}/actions/accept", json=body, headers=headers)
    assert reused.status == 422 and (await reused.json())["error"]["code"] == "idempotency_key_reused"
    [t] = await sim.tickets()
    assert t["status"] == "dispatched"
    # A taken ticket answers 409, and its retry the same 409.
    accept = {**auth(), "Idempotency-Key": "accept-1"}
    assert (await client.post(f"/api/v1/tickets/{number}/actions/accept", json=body, headers=accept)).status == 200
    late = {"actor": {"channel": "sim", "user": "zhaoliu"}}
    for _ in range(2):
        resp = await client.post(f"/api/v1/tickets/{number}/actions/accept", json=late,
                                 headers={**auth(), "Idempotency-Key": "accept-2"})
        assert resp.status == 409 and (await resp.json())["outcome"] == "taken"
    assert await _count(client.app, TicketEvent, TicketEvent.action == "accepted") == 1


async def test_a_wecom_click_handled_again_after_its_commit_acts_once(aiohttp_client, make_settings, clock, backend):
    """The inbox delivers at least once: a worker killed after the press committed and before it
    acknowledged leaves the click to be handled again."""
    from aiohttp.test_utils import unused_port

    from bot.app import create_app
    from bot.runtime import run_pending

    port = unused_port()
    settings = make_settings(service={"public_url": f"http://127.0.0.1:{port}"})
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix, demo_wecom=True)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    for text in (REPORT, "确认"):
        await client.post("/sim/api/wecom/say", json={"user": "r1", "text": text})
        await run_pending(services_of(app))
    sent = (await (await client.get("/sim/wecom/_sent", params={"user": "zhangsan"})).json())["sent"]
    [card] = [i["payload"]["template_card"] for i in sent if i["payload"].get("msgtype") == "template_card"]
    transfer = card["button_list"][1]["key"]
    resp = await client.post("/sim/api/wecom/click", json={"user": "zhangsan", "task_id": card["task_id"],
                                                            "key": transfer})
    assert (await resp.json())["callback_status"] == 200
    items = []

    async def handle_and_keep(item):
        items.append(item)
        await services_of(app).processors[item.platform](item)
    await services_of(app).inbox.drain(handle_and_keep)
    [click] = items
    await services_of(app).processors[click.platform](click)  # the same event, handled a second time
    await run_pending(services_of(app))
    assert await _transfers(app) == 1 and await _supervisor_notices(app) == 1
    told = [i for i in (await (await client.get("/sim/wecom/_sent", params={"user": "zhangsan"})).json())["sent"]
            if i["kind"] == "message" and i["payload"].get("msgtype") == "text"]
    assert len(told) == 1  # the presser hears the result once


async def test_the_same_staff_entry_sent_five_times_at_once_is_filed_once(client):
    import asyncio

    headers = {**auth(), "Idempotency-Key": "desk-burst"}
    answers = await asyncio.gather(*(client.post("/api/v1/tickets", json=STAFF_ENTRY, headers=headers)
                                     for _ in range(5)))
    assert [a.status for a in answers] == [201] * 5
    assert len({(await a.json())["number"] for a in answers}) == 1
    assert await _count(client.app, Ticket) == 1
    assert await _count(client.app, TicketEvent, TicketEvent.action == "created") == 1
