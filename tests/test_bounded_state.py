"""Nothing in the process grows without bound: in-memory conversation state, the simulator's sent log and the
fake platform APIs keep a ceiling, drop the oldest first, and recent state still works."""
from __future__ import annotations

from datetime import timedelta

from bot.services import services_of
from bot.sim.bounded import BLOBS, ENTRIES, MESSAGES
from bot.sim.feishu_api import FakeFeishu
from bot.sim.log import SentLog
from bot.sim.wecom_api import FakeWecom, setup_fake_wecom
from conversations.messages import Reply
from conversations.storage import StorageKey
from conversations.storage.memory import MemoryStorage
from tests.conftest import Sim


def _key(i: int) -> StorageKey:
    return StorageKey("wecom", f"u{i}", f"u{i}")


async def test_memory_state_holds_at_most_its_ceiling_and_forgets_the_idlest(clock):
    storage = MemoryStorage(clock=clock, max_keys=100)
    for i in range(1000):   # a thousand ids writing once each, as a flood from forged accounts would
        async with storage.hold(_key(i)) as held:
            held.put({"n": i}, 3600)
            held.schedule(clock.now() + timedelta(minutes=30))
        clock.advance(seconds=1)
    assert len(storage) == 100
    assert await storage.get(_key(0)) is None and await storage.get(_key(899)) is None
    assert [(await storage.get(_key(i)))["n"] for i in (900, 999)] == [900, 999]
    # Forgotten conversations took their idle deadlines with them; the kept ones are still due.
    clock.advance(minutes=31)
    assert sorted(k.user for k in await storage.due(clock.now(), limit=10_000)) == sorted(
        f"u{i}" for i in range(900, 1000))


async def test_a_conversation_in_use_is_not_the_one_forgotten(clock):
    storage = MemoryStorage(clock=clock, max_keys=10)
    for i in range(10):
        await storage.set(_key(i), {"n": i}, 3600)
    await storage.set(_key(0), {"n": "again"}, 3600)   # the oldest writes again: now the newest
    await storage.set(_key(10), {"n": 10}, 3600)
    assert (await storage.get(_key(0)))["n"] == "again"
    assert await storage.get(_key(1)) is None


async def test_expired_state_is_dropped_by_the_sweep_without_being_read(clock):
    storage = MemoryStorage(clock=clock)
    for i in range(500):
        await storage.set(_key(i), {"n": i}, 60)
    await storage.set(_key(-1), {"n": "live"}, 3600)
    clock.advance(seconds=61)
    await storage.due(clock.now())   # what the idle sweeper calls every few seconds
    assert len(storage) == 1 and (await storage.get(_key(-1)))["n"] == "live"


async def test_the_service_keeps_at_most_max_conversations_and_recent_residents_still_file(
        aiohttp_client, make_settings, clock, backend):
    from bot.app import create_app
    # In-memory state on purpose (no Redis), whichever database the backend brings.
    settings = make_settings(redis={"url": ""}, intake={"max_conversations": 20})
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix)
    sim = Sim(await aiohttp_client(app))
    for i in range(60):
        await sim.say(f"stranger-{i}", "我要报修")
    storage = services_of(app).storage
    assert isinstance(storage, MemoryStorage) and len(storage) == 20
    await sim.say("alice", "A座大堂的灯不亮了 王女士 13812345678")
    for i in range(60, 70):
        await sim.say(f"stranger-{i}", "我要报修")
    assert len(storage) == 20
    assert "BX20261129-0001" in (await sim.say("alice", "确认"))[0]   # her draft was recent enough


def test_the_simulators_sent_log_keeps_the_newest(clock):
    log = SentLog(clock)
    for i in range(log.limit + 500):
        log.record("c", "u", [Reply(f"m{i}")])
    assert len(log.items) == log.limit
    newest = log.since(log.limit + 490)
    assert [i["text"] for i in newest] == [f"m{i}" for i in range(log.limit + 490, log.limit + 500)]


def test_the_fake_wecom_keeps_the_newest_of_everything(clock):
    fake = FakeWecom("corp", "secret", clock)
    for i in range(MESSAGES + 10):
        fake.record(kind="message", user="u", payload={"n": i})
        fake.calls.append(("/cgi-bin/message/send", 0))
    assert len(fake.sent) == len(fake.calls) == MESSAGES
    assert fake.sent[-1]["payload"]["n"] == MESSAGES + 9 and fake.sent[0]["payload"]["n"] == 10
    ids = [fake.add_media(b"x" * 10) for _ in range(BLOBS + 5)]
    assert len(fake.media) == BLOBS and ids[0] not in fake.media and ids[-1] in fake.media
    codes = [fake.click_code("u", f"t{i}") for i in range(ENTRIES + 5)]
    assert len(fake.response_codes) == ENTRIES and codes[-1] in fake.response_codes
    for i in range(ENTRIES + 5):
        fake.tokens[f"tok{i}"] = 1.0
    fake.expire_tokens()
    assert len(fake.tokens) == ENTRIES


def test_the_fake_feishu_keeps_the_newest_of_everything(clock):
    fake = FakeFeishu("app", "secret", clock)
    for i in range(MESSAGES + 10):
        fake.sent.append({"message_id": f"om_{i}", "receive_id": "oc", "chat_id": "oc", "msg_type": "text"})
    assert len(fake.sent) == MESSAGES and fake.by_id(f"om_{MESSAGES + 9}") and not fake.by_id("om_0")
    keys_ = [fake.add_image(b"img") for _ in range(BLOBS + 5)]
    assert len(fake.images) == BLOBS and keys_[-1] in fake.images
    for i in range(ENTRIES + 5):
        fake.uuids[f"uuid{i}"] = ("om", 0.0)
    assert len(fake.uuids) == ENTRIES


async def test_uploads_to_the_fake_wecom_over_http_stay_bounded(aiohttp_client, clock):
    from aiohttp import web
    app = web.Application()
    fake = setup_fake_wecom(app, corp_id="corp", secret="secret", clock=clock)
    client = await aiohttp_client(app)
    ids = []
    for i in range(BLOBS + 5):
        resp = await client.post("/sim/wecom/_media", data=b"\xff\xd8" + bytes([i]))
        ids.append((await resp.json())["media_id"])
    assert len(fake.media) == BLOBS
    token = (await (await client.get("/sim/wecom/cgi-bin/gettoken",
                                     params={"corpid": "corp", "corpsecret": "secret"})).json())["access_token"]
    first = await client.get("/sim/wecom/cgi-bin/media/get", params={"access_token": token, "media_id": ids[0]})
    assert (await first.json())["errcode"] == 40007
    last = await client.get("/sim/wecom/cgi-bin/media/get", params={"access_token": token, "media_id": ids[-1]})
    assert await last.read() == b"\xff\xd8" + bytes([BLOBS + 4])
