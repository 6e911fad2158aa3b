"""WeCom kf from the outside: kf events, sync_msg paging, a durable cursor, send_msg within its limits."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import unused_port

from bot.services import services_of
from bot.app import create_app
from relay.messengers import Recipient, Undeliverable
from bot.sim.wecom_kf_api import FakeKf, setup_fake_kf
from bot.wecom_kf.adapter import CHANNEL, offer_kf_event
from bot.wecom_kf.event import KfEvent, is_customer_message, parse_kf_event, to_message
from conversations.messages import InboundMessage

DATA = Path(__file__).parent / "data" / "wecom_kf"
CORP, SECRET = "ww-test-corp", "wecom-secret"
KFID = "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q"
ALICE, BOB = "wmAlice000000000000000000000001", "wmBob00000000000000000000000002"


@dataclass
class Kf:
    client: object
    app: object
    fake: FakeKf
    clock: object
    seen: list[InboundMessage]

    def event(self, open_kfid: str = KFID) -> KfEvent:
        ev = parse_kf_event(self.fake.event_xml(open_kfid))
        assert ev is not None
        return ev

    async def drain(self) -> int:
        from bot.runtime import run_pending
        return await run_pending(services_of(self.app))  # as the worker would: process, then deliver through the outbox

    async def cursor(self, open_kfid: str = KFID) -> str:
        return await self.channel.cursors.get(open_kfid)

    @property
    def channel(self):
        return services_of(self.app).channels[CHANNEL]

    def messenger(self):
        return services_of(self.app).messengers.get("wecom_kf")


@pytest.fixture
async def kf(aiohttp_client, make_settings, clock, backend):
    port = unused_port()
    settings = make_settings(wecom={
        "corp_id": CORP, "agent_id": 1000002, "secret": SECRET, "token": "cb-token",
        "encoding_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "api_base": f"http://127.0.0.1:{port}/sim/wecom-kf"})
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix)
    fake = setup_fake_kf(app, clock=clock, corp_id=CORP, secret=SECRET)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    engine = services_of(app).conversations
    seen: list[InboundMessage] = []
    real = engine.handle

    async def handle(msg):
        seen.append(msg)
        return await real(msg)
    engine.handle = handle
    return Kf(client, app, fake, clock, seen)


# --- parsing --------------------------------------------------------------------------------------

def test_a_kf_event_is_recognised():
    ev = parse_kf_event((DATA / "kf_event.xml").read_text(encoding="utf-8"))
    assert ev == KfEvent(open_kfid=KFID, token="ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR",
                         create_time="1795917600", corp_id=CORP)


@pytest.mark.parametrize("name", ["not_kf_text.xml", "not_kf_card_click.xml", "kf_event_without_token.xml"])
def test_anything_else_is_not_a_kf_event(name):
    assert parse_kf_event((DATA / name).read_text(encoding="utf-8")) is None


@pytest.mark.parametrize("xml", ["", "<xml><unclosed>", "<root/>", "[]"])
def test_garbage_is_not_a_kf_event(xml):
    assert parse_kf_event(xml) is None


def test_sync_msg_items_become_neutral_messages():
    page = json.loads((DATA / "sync_msg_page.json").read_text(encoding="utf-8"))
    for item in page["msg_list"]:
        expect = item.pop("expect")
        assert is_customer_message(item) == (expect is not None), item["msgid"]
        if expect is not None:
            msg = to_message(item)
            assert msg.external_userid == item["external_userid"] and msg.open_kfid == KFID
            for k, v in expect.items():
                assert getattr(msg, k) == v, (item["msgid"], k)


# --- syncing --------------------------------------------------------------------------------------

async def test_an_event_pages_through_sync_msg_and_processes_every_customer_message_once(kf):
    kf.fake.page_size = 2
    kf.fake.system_event(KFID, ALICE)
    ids = [kf.fake.customer_says(KFID, ALICE, "帮助"), kf.fake.customer_says(KFID, BOB, "帮助")]
    kf.fake.servicer_says(KFID, ALICE, "a human servicer wrote this")
    ids += [kf.fake.customer_says(KFID, ALICE, "我的报修"), kf.fake.customer_says(KFID, BOB, "帮助"),
            kf.fake.customer_says(KFID, ALICE, "帮助")]
    ev = kf.event()
    assert await offer_kf_event(services_of(kf.app).inbox, ev) is True
    assert await offer_kf_event(services_of(kf.app).inbox, ev) is False  # WeCom's retry of the same callback
    await kf.drain()
    assert [m.message_id for m in kf.seen] == ids
    assert all((m.channel, m.chat) == ("wecom_kf", KFID) for m in kf.seen)
    assert [m.user for m in kf.seen] == [ALICE, BOB, ALICE, BOB, ALICE]
    calls = kf.fake.sync_calls
    assert len(calls) == 4  # 7 items, 2 per page
    assert [c.get("cursor", "") for c in calls] == ["", "c2", "c4", "c6"]
    assert all(c["token"] == ev.token and c["limit"] == 1000 and c["open_kfid"] == KFID for c in calls)
    assert await kf.cursor() == "c7"
    assert len(kf.fake.sent) == 5
    assert {(s["touser"], s["open_kfid"], s["msgtype"]) for s in kf.fake.sent} == {
        (ALICE, KFID, "text"), (BOB, KFID, "text")}


async def test_the_cursor_is_kept_and_a_second_event_reprocesses_nothing(kf):
    kf.fake.customer_says(KFID, ALICE, "帮助")
    await kf.channel.process_kf(kf.event())
    await kf.drain()
    assert len(kf.seen) == 1 and await kf.cursor() == "c1"
    new = kf.fake.customer_says(KFID, ALICE, "我的报修")
    await kf.channel.process_kf(kf.event())
    await kf.drain()
    assert kf.fake.sync_calls[-1]["cursor"] == "c1"
    assert [m.message_id for m in kf.seen][1:] == [new]
    await kf.channel.process_kf(kf.event())  # nothing new
    assert await kf.drain() == 0 and len(kf.seen) == 2


async def test_a_sync_repeated_from_an_old_cursor_hands_nothing_over_twice(kf):
    kf.fake.customer_says(KFID, ALICE, "帮助")
    kf.fake.customer_says(KFID, BOB, "帮助")
    await kf.channel.process_kf(kf.event())
    # A crash before the cursor was saved: the next sync reads the same page again.
    async with services_of(kf.app).sessions() as session, session.begin():
        from sqlalchemy import delete

        from store.models import KeyValue
        await session.execute(delete(KeyValue).where(KeyValue.key == kf.channel.cursors.key(KFID)))
    await kf.channel.process_kf(kf.event())
    await kf.drain()
    assert len(kf.seen) == 2


async def test_an_image_is_downloaded_at_once_or_marked_failed(kf):
    kf.fake.media["m-1"] = (b"\xff\xd8\xff\xe0kf-jpeg", "image/jpeg")
    kf.fake.customer_says(KFID, ALICE, image_media_id="m-1")
    kf.fake.customer_says(KFID, ALICE, image_media_id="gone")
    await kf.channel.process_kf(kf.event())
    await kf.drain()
    assert kf.seen[0].image == b"\xff\xd8\xff\xe0kf-jpeg" and not kf.seen[0].image_failed
    assert kf.seen[1].image is None and kf.seen[1].image_failed


async def test_unsupported_messages_get_a_sentence_from_the_templates(kf):
    kf.fake.customer_says(KFID, ALICE, msgtype="video", body={"media_id": "v"})
    await kf.channel.process_kf(kf.event())
    await kf.drain()
    assert kf.seen == []
    texts = services_of(kf.app).texts
    assert kf.fake.sent[0]["text"]["content"] == texts.render("channels/unsupported.j2")


async def test_the_processor_is_registered_for_the_inbox_worker(kf):
    assert services_of(kf.app).processors[CHANNEL] == kf.channel.process


# --- limits ---------------------------------------------------------------------------------------

async def _customer_wrote(kf: Kf, user: str = ALICE, text: str = "帮助") -> None:
    kf.fake.customer_says(KFID, user, text)
    await kf.channel.process_kf(kf.event())
    await kf.drain()


async def test_at_most_five_messages_per_customer_message(kf):
    await _customer_wrote(kf)  # the engine's answer is message 1 of 5
    to = Recipient("wecom_kf", user=ALICE, chat=KFID)
    for i in range(4):
        await kf.messenger().send_text(to, f"update {i}")
    sent = len(kf.fake.sent)
    with pytest.raises(Undeliverable) as e:
        await kf.messenger().send_text(to, "one too many")
    assert e.value.code == "quota_used" and len(kf.fake.sent) == sent == 5
    await _customer_wrote(kf, text="我的报修")  # they wrote again: the count starts over
    await kf.messenger().send_text(to, "allowed again")
    assert kf.fake.sent[-1]["text"]["content"] == "allowed again"


async def test_the_count_is_per_customer(kf):
    await _customer_wrote(kf, ALICE)
    await _customer_wrote(kf, BOB)
    for _ in range(4):
        await kf.messenger().send_text(Recipient("wecom_kf", user=ALICE, chat=KFID), "x")
    await kf.messenger().send_text(Recipient("wecom_kf", user=BOB, chat=KFID), "still fine")


async def test_after_48_hours_nothing_is_sent(kf):
    await _customer_wrote(kf)
    kf.clock.advance(hours=48, seconds=1)
    sent = len(kf.fake.sent)
    with pytest.raises(Undeliverable) as e:
        await kf.messenger().send_text(Recipient("wecom_kf", user=ALICE, chat=KFID), "late")
    assert e.value.code == "window_closed" and len(kf.fake.sent) == sent


async def test_an_outbox_row_names_only_the_customer_and_still_reaches_their_kf_account(kf):
    from dispatch import outbox
    from store.models import Outbox

    await _customer_wrote(kf)
    async with services_of(kf.app).sessions() as session, session.begin():
        await outbox.enqueue(session, key="kf-1", channel="wecom_kf", kind=outbox.TEXT,
                             payload={"template": "channels/unsupported.j2"}, now=kf.clock.now(), user=ALICE)
    assert await services_of(kf.app).outbox_sender.deliver_due() == 1
    assert (kf.fake.sent[-1]["touser"], kf.fake.sent[-1]["open_kfid"]) == (ALICE, KFID)
    kf.clock.advance(hours=49)
    async with services_of(kf.app).sessions() as session, session.begin():
        await outbox.enqueue(session, key="kf-2", channel="wecom_kf", kind=outbox.TEXT,
                             payload={"template": "channels/unsupported.j2"}, now=kf.clock.now(), user=ALICE)
    assert await services_of(kf.app).outbox_sender.deliver_due() == 1
    async with services_of(kf.app).sessions() as session:
        rows = {r.dedupe_key: r for r in (await session.execute(Outbox.__table__.select())).all()}
    assert rows["kf-1"].status == "sent"
    assert rows["kf-2"].status == "undeliverable" and "window_closed" in rows["kf-2"].last_error


async def test_a_refused_reply_is_recorded_not_dropped(kf):
    from store.models import Outbox
    kf.fake.customer_says(KFID, ALICE, "帮助")
    kf.fake.last_wrote.clear()  # the platform thinks otherwise (e.g. a human servicer took over)
    await kf.channel.process_kf(kf.event())
    await kf.drain()
    assert kf.fake.sent == []
    async with services_of(kf.app).sessions() as session:
        rows = (await session.execute(Outbox.__table__.select())).all()
    assert rows and all(r.status in ("undeliverable", "dead") and r.last_error for r in rows)
    # the refused send did not use up one of the five
    record = await kf.channel.window.get(ALICE)
    assert record["sent"] == 0


async def test_a_refused_token_is_refetched_once(kf):
    await _customer_wrote(kf)
    issued = kf.fake.tokens_issued
    kf.fake.issue_token()  # the cached token is now refused with 40014
    await kf.messenger().send_text(Recipient("wecom_kf", user=ALICE, chat=KFID), "after refetch")
    assert kf.fake.tokens_issued == issued + 2
    assert kf.fake.sent[-1]["text"]["content"] == "after refetch"


async def test_a_voice_note_mid_report_is_answered_and_the_question_repeated(kf):
    """Issue 12: no transcript in kf; the draft survives and the resident is asked to type instead."""
    kf.fake.customer_says(KFID, ALICE, "3栋2单元1502卫生间漏水")
    kf.fake.customer_says(KFID, ALICE, msgtype="voice", body={"media_id": "v"})
    await kf.channel.process_kf(kf.event())
    await kf.drain()
    assert [m.voice for m in kf.seen] == [False, True]
    texts = services_of(kf.app).texts
    sent = [m["text"]["content"] for m in kf.fake.sent]
    assert texts.render("intake/voice_unreadable.j2", has_draft=True, kept=False) in sent[1]
    assert "姓名" in sent[-1]        # the contact question again, not a lost report
