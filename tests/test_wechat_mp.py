"""The Official Account channel from the outside: signed (and encrypted) callbacks built with wechatpy."""
from __future__ import annotations

import io
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import unused_port
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from bot.services import services_of
from bot.app import create_app
from relay.messengers import Recipient, Undeliverable
from bot.sim.wechat_mp_api import FakeMp, setup_fake_mp
from bot.wechat_mp.event import dedupe_id, parse_xml, to_message
from conversations.messages import InboundMessage

DATA = Path(__file__).parent / "data" / "wechat_mp"
APP_ID, SECRET, TOKEN = "wx-test-app", "mp-secret", "mp-callback-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OPENID = "oResident0000000000000000001"


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


@dataclass
class Mp:
    client: object
    app: object
    fake: FakeMp
    clock: object
    safe: bool
    seq: int = 0

    def ts(self, offset: int = 0) -> str:
        return str(int(self.clock.now().timestamp()) + offset)

    def xml(self, content: str = "帮助", *, openid: str = OPENID, msg_id: str | None = None,
            msg_type: str = "text", extra: str = "") -> str:
        self.seq += 1
        body = f"<Content><![CDATA[{content}]]></Content>" if msg_type == "text" else ""
        return (f"<xml><ToUserName><![CDATA[gh_repairdesk]]></ToUserName>"
                f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{self.ts()}</CreateTime>"
                f"<MsgType><![CDATA[{msg_type}]]></MsgType>{body}{extra}"
                f"<MsgId>{msg_id or 1000 + self.seq}</MsgId></xml>")

    def signed(self, xml: str, *, ts_offset: int = 0, nonce: str | None = None, forge: bool = False
               ) -> tuple[dict, bytes]:
        """Query and body as WeChat sends them (encrypted through wechatpy in safe mode), a fresh nonce
        each time unless one is given."""
        ts = self.ts(ts_offset)
        nonce = nonce or secrets.token_hex(5)
        params = {"signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": OPENID}
        if self.safe:
            envelope = WeChatCrypto(TOKEN, AES_KEY, APP_ID).encrypt_message(xml, nonce, ts)
            params.update(encrypt_type="aes", msg_signature=parse_xml(envelope)["MsgSignature"])
            body = envelope.encode()
            if forge:
                params["msg_signature"] = "0" * 40
        else:
            body = xml.encode()
            if forge:
                params["signature"] = "0" * 40
        return params, body

    async def post(self, xml: str, **kw):
        params, body = self.signed(xml, **kw)
        return await self.client.post("/wechat/mp", params=params, data=body)

    async def drain(self) -> int:
        from bot.runtime import run_pending
        return await run_pending(services_of(self.app))  # as the worker would: process, then deliver through the outbox


@pytest.fixture
def make_mp(aiohttp_client, make_settings, clock, backend):
    async def make(safe: bool = False) -> Mp:
        port = unused_port()
        mp = {"app_id": APP_ID, "secret": SECRET, "token": TOKEN,
              "api_base": f"http://127.0.0.1:{port}/sim/mp"}
        if safe:
            mp["encoding_aes_key"] = AES_KEY
        settings = make_settings(wechat_mp=mp)
        app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix)
        fake = setup_fake_mp(app, clock=clock, app_id=APP_ID, secret=SECRET)
        client = await aiohttp_client(app, server_kwargs={"port": port})
        return Mp(client, app, fake, clock, safe)
    return make


@pytest.fixture(params=["plain", "safe"])
async def mp(request, make_mp):
    return await make_mp(safe=request.param == "safe")


def texts(app):
    return services_of(app).texts


# --- URL verification -----------------------------------------------------------------------------

async def test_url_verification_answers_echostr(make_mp):
    h = await make_mp()
    ts = h.ts()
    resp = await h.client.get("/wechat/mp", params={"signature": sign(TOKEN, ts, "abc"), "timestamp": ts,
                                                    "nonce": "abc", "echostr": "8214713927416"})
    assert resp.status == 200 and await resp.text() == "8214713927416"


@pytest.mark.parametrize("case", ["forged", "stale", "missing"])
async def test_url_verification_refuses_bad_requests(make_mp, case):
    h = await make_mp()
    ts = h.ts(-301 if case == "stale" else 0)
    params = {"signature": sign(TOKEN, ts, "abc"), "timestamp": ts, "nonce": "abc", "echostr": "x"}
    if case == "forged":
        params["signature"] = sign("other-token", ts, "abc")
    if case == "missing":
        del params["signature"]
    resp = await h.client.get("/wechat/mp", params=params)
    assert resp.status == 403 and "x" not in await resp.text()


# --- receiving ------------------------------------------------------------------------------------

async def test_text_answers_success_at_once_and_the_reply_goes_out_later(mp):
    mp.fake.user_wrote(OPENID)
    resp = await mp.post(mp.xml("帮助"))
    assert resp.status == 200 and await resp.text() == "success"
    assert mp.fake.sent == []  # the webhook never waits for the engine
    assert await mp.drain() == 1
    [sent] = mp.fake.sent
    assert sent["touser"] == OPENID and sent["msgtype"] == "text"
    assert sent["text"]["content"] == texts(mp.app).render("intake/help.j2")
    assert (await (await mp.client.get("/sim/mp/_sent")).json())["sent"][0]["touser"] == OPENID


async def test_a_callback_replayed_three_times_has_one_effect(mp):
    mp.fake.user_wrote(OPENID)
    xml = mp.xml("帮助", msg_id="777")
    for _ in range(3):
        resp = await mp.post(xml)
        assert resp.status == 200 and await resp.text() == "success"
    assert await mp.drain() == 1
    assert len(mp.fake.sent) == 1


async def _nothing_changed(h: Mp) -> None:
    assert await h.drain() == 0
    assert h.fake.sent == [] and h.fake.send_attempts == 0


@pytest.mark.parametrize("case, status", [
    ("forged", 403), ("stale", 403), ("future", 403), ("malformed", 400), ("dtd", 400), ("too_big", 413),
])
async def test_rejected_callbacks_change_nothing(mp, case, status):
    xml = mp.xml("帮助")
    if case == "forged":
        resp = await mp.post(xml, forge=True)
    elif case == "stale":
        resp = await mp.post(xml, ts_offset=-301)
    elif case == "future":
        resp = await mp.post(xml, ts_offset=301)
    elif case in ("malformed", "dtd", "too_big"):
        bad = {"malformed": "<xml><Content>unclosed",
               "dtd": '<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Content>&a;</Content></xml>',
               "too_big": "<xml><Content>" + "x" * (1024 * 1024) + "</Content></xml>"}[case]
        if case == "too_big":
            params, body = mp.signed(bad)
            resp = await mp.client.post("/wechat/mp", params=params, data=io.BytesIO(body + b" " * 1024))
        else:
            resp = await mp.post(bad)
    assert resp.status == status
    await _nothing_changed(mp)


async def test_a_chunked_body_over_the_limit_is_refused(make_mp):
    h = await make_mp()
    params, _ = h.signed(h.xml())

    async def chunks():
        for _ in range(17):
            yield b"x" * 65536
    resp = await h.client.post("/wechat/mp", params=params, data=chunks())
    assert resp.status == 413
    await _nothing_changed(h)


async def test_a_body_arriving_in_many_chunks_is_read_whole(make_mp):
    h = await make_mp()
    h.fake.user_wrote(OPENID)
    params, body = h.signed(h.xml("帮助" + " " * 200_000))

    async def chunks():
        for i in range(0, len(body), 1000):
            yield body[i:i + 1000]
    resp = await h.client.post("/wechat/mp", params=params, data=chunks())
    assert resp.status == 200 and await h.drain() == 1


async def test_safe_mode_refuses_a_plain_body(make_mp):
    h = await make_mp(safe=True)
    xml = h.xml("帮助")
    ts = h.ts()
    resp = await h.client.post("/wechat/mp", params={"signature": sign(TOKEN, ts, "n"), "timestamp": ts,
                                                     "nonce": "n"}, data=xml.encode())
    assert resp.status == 403
    await _nothing_changed(h)


async def test_safe_mode_refuses_an_envelope_for_another_account(make_mp):
    h = await make_mp(safe=True)
    ts = h.ts()
    envelope = WeChatCrypto(TOKEN, AES_KEY, "wx-another-app").encrypt_message(h.xml(), "n", ts)
    resp = await h.client.post("/wechat/mp", data=envelope.encode(), params={
        "signature": sign(TOKEN, ts, "n"), "timestamp": ts, "nonce": "n", "encrypt_type": "aes",
        "msg_signature": parse_xml(envelope)["MsgSignature"]})
    assert resp.status == 400
    await _nothing_changed(h)


# --- processing -----------------------------------------------------------------------------------

def _record_engine(app) -> list[InboundMessage]:
    engine = services_of(app).conversations
    seen: list[InboundMessage] = []
    real = engine.handle

    async def handle(msg):
        seen.append(msg)
        return await real(msg)
    engine.handle = handle
    return seen


async def test_an_image_is_downloaded_at_once(make_mp):
    h = await make_mp()
    h.fake.user_wrote(OPENID)
    h.fake.media["m-1"] = (b"\xff\xd8\xff\xe0fake-jpeg", "image/jpeg")
    seen = _record_engine(h.app)
    await h.post(h.xml(msg_type="image", extra="<MediaId><![CDATA[m-1]]></MediaId>"))
    await h.post(h.xml(msg_type="image", extra="<MediaId><![CDATA[expired]]></MediaId>"))
    assert await h.drain() == 2
    assert seen[0].image == b"\xff\xd8\xff\xe0fake-jpeg" and not seen[0].image_failed
    assert seen[1].image is None and seen[1].image_failed
    assert (seen[0].channel, seen[0].chat, seen[0].user) == ("wechat_mp", OPENID, OPENID)


async def test_unsupported_messages_get_a_sentence_from_the_templates(make_mp):
    h = await make_mp()
    h.fake.user_wrote(OPENID)
    seen = _record_engine(h.app)
    await h.post(h.xml(msg_type="video", extra="<MediaId><![CDATA[v]]></MediaId>"))
    await h.drain()
    assert seen == []
    assert h.fake.sent[0]["text"]["content"] == texts(h.app).render("channels/unsupported.j2")


async def test_voice_with_wechats_recognition_is_read_as_typed_text(make_mp):
    """Issue 12: an Official Account with speech recognition on sends <Recognition>: a report like any other."""
    h = await make_mp()
    h.fake.user_wrote(OPENID)
    seen = _record_engine(h.app)
    await h.post(h.xml(msg_type="voice", extra="<MediaId><![CDATA[v]]></MediaId><Format><![CDATA[amr]]></Format>"
                       "<Recognition><![CDATA[3栋2单元1502卫生间水管爆了 王女士 13812345678]]></Recognition>"))
    await h.drain()
    assert seen[0].voice and seen[0].text.startswith("3栋2单元1502")   # the transcript is the message
    assert "请核对" in json.dumps(h.fake.sent, ensure_ascii=False)       # straight to the summary


async def test_voice_without_recognition_is_answered_with_a_request_to_type(make_mp):
    h = await make_mp()
    h.fake.user_wrote(OPENID)
    seen = _record_engine(h.app)
    await h.post(h.xml(msg_type="voice", extra="<MediaId><![CDATA[v]]></MediaId><Format><![CDATA[amr]]></Format>"))
    await h.drain()
    assert seen[0].voice and seen[0].text == ""
    # The fake holds no media "v": nothing to keep (tests/test_voice_notes.py keeps recordings).
    assert h.fake.sent[0]["text"]["content"] == texts(h.app).render("intake/voice_unreadable.j2", has_draft=False,
                                                                    kept=False)


async def test_a_follower_is_welcomed(make_mp):
    h = await make_mp()
    h.fake.user_wrote("oNew")
    xml = (f"<xml><ToUserName>gh</ToUserName><FromUserName>oNew</FromUserName><CreateTime>{h.ts()}</CreateTime>"
           f"<MsgType>event</MsgType><Event>subscribe</Event></xml>")
    await h.post(xml)
    await h.post(xml)  # the retry of an event is recognised by sender + CreateTime
    assert await h.drain() == 1
    assert h.fake.sent[0]["text"]["content"] == texts(h.app).render("intake/welcome.j2")


# --- the 48 h window ------------------------------------------------------------------------------

async def test_a_send_after_48_hours_is_undeliverable_without_calling_the_api(make_mp):
    h = await make_mp()
    h.fake.user_wrote(OPENID)
    await h.post(h.xml("帮助"))
    await h.drain()
    attempts = h.fake.send_attempts
    h.clock.advance(hours=48, seconds=1)
    with pytest.raises(Undeliverable) as e:
        await services_of(h.app).messengers.get("wechat_mp").send_text(Recipient("wechat_mp", user=OPENID), "hi")
    assert e.value.code == "window_closed" and not e.value.retryable
    assert h.fake.send_attempts == attempts


async def test_errcode_45015_is_undeliverable(make_mp):
    h = await make_mp()
    h.fake.user_wrote(OPENID)
    await h.post(h.xml("帮助"))
    await h.drain()
    h.clock.advance(hours=47)
    h.fake.last_wrote.pop(OPENID)  # they unfollowed: the platform refuses though our window is open
    with pytest.raises(Undeliverable) as e:
        await services_of(h.app).messengers.get("wechat_mp").send_text(Recipient("wechat_mp", user=OPENID), "hi")
    assert e.value.code == "45015"


async def test_an_outbox_row_after_48_hours_is_recorded_undeliverable(make_mp):
    from dispatch import outbox
    from store.models import Outbox

    h = await make_mp()
    h.fake.user_wrote(OPENID)
    await h.post(h.xml("帮助"))
    await h.drain()
    h.clock.advance(hours=49)
    async with services_of(h.app).sessions() as session, session.begin():
        await outbox.enqueue(session, key="mp-late-1", channel="wechat_mp", kind=outbox.TEXT,
                             payload={"template": "channels/unsupported.j2"}, now=h.clock.now(), user=OPENID)
    assert await services_of(h.app).outbox_sender.deliver_due() == 1
    async with services_of(h.app).sessions() as session:
        row = (await session.execute(Outbox.__table__.select().where(Outbox.dedupe_key == "mp-late-1"))).one()
    assert row.status == "undeliverable" and "window_closed" in row.last_error


async def test_a_refused_reply_is_recorded_not_dropped_silently(make_mp):
    from store.models import Outbox
    h = await make_mp()  # the fake never heard from this user: it answers 45015
    await h.post(h.xml("帮助"))
    assert await h.drain() == 1
    assert h.fake.sent == []
    async with services_of(h.app).sessions() as session:
        rows = (await session.execute(Outbox.__table__.select())).all()
    assert rows and all(r.status == "undeliverable" and "45015" in r.last_error for r in rows)


# --- the token ------------------------------------------------------------------------------------

async def test_a_refused_token_is_refetched_exactly_once(make_mp):
    h = await make_mp()
    h.fake.user_wrote(OPENID)
    messenger = services_of(h.app).messengers.get("wechat_mp")
    to = Recipient("wechat_mp", user=OPENID)
    await messenger.send_text(to, "one")
    await messenger.send_text(to, "two")
    assert h.fake.tokens_issued == 1  # cached
    h.fake.issue_token()  # someone else fetched: ours is now invalid (40001)
    await messenger.send_text(to, "three")
    assert h.fake.tokens_issued == 3 and h.fake.send_attempts == 4
    assert [s["text"]["content"] for s in h.fake.sent] == ["one", "two", "three"]
    h.fake.fail_next(40001, 2)  # refused again after the refetch: give up, no loop
    with pytest.raises(Exception) as e:
        await messenger.send_text(to, "four")
    assert getattr(e.value, "code", "") == "40001"
    assert h.fake.tokens_issued == 4


async def test_an_expired_token_is_refetched(make_mp):
    h = await make_mp()
    h.fake.user_wrote(OPENID)
    messenger = services_of(h.app).messengers.get("wechat_mp")
    await messenger.send_text(Recipient("wechat_mp", user=OPENID), "one")
    h.clock.advance(seconds=7200)
    h.fake.user_wrote(OPENID)
    await messenger.send_text(Recipient("wechat_mp", user=OPENID), "two")
    assert h.fake.tokens_issued == 2 and len(h.fake.sent) == 2


async def test_options_become_a_menu_message(make_mp):
    h = await make_mp()
    h.fake.user_wrote(OPENID)
    await services_of(h.app).messengers.get("wechat_mp").send_text(Recipient("wechat_mp", user=OPENID), "q", ("a", "b"))
    menu = h.fake.sent[0]["msgmenu"]
    assert menu["head_content"] == "q" and [i["content"] for i in menu["list"]] == ["a", "b"]


# --- the corpus -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(json.loads((DATA / "expected.json").read_text(encoding="utf-8"))))
def test_corpus_becomes_the_neutral_message(name):
    expected = json.loads((DATA / "expected.json").read_text(encoding="utf-8"))[name]
    root = parse_xml((DATA / name).read_bytes())
    assert dedupe_id(root) == expected.pop("dedupe")
    msg = to_message(root)
    for field, value in expected.items():
        assert getattr(msg, field) == value, field


# --- plain mode: a (timestamp, nonce) pair is honoured once (issue 8) -------------------------------

async def test_a_captured_plain_signature_replayed_with_another_message_is_refused(make_mp):
    """Plain mode signs only token + timestamp + nonce: whoever captures one request could post any
    message as anyone for five minutes. The pair carries one message; another one with it is refused."""
    h = await make_mp()
    h.fake.user_wrote(OPENID)
    params, body = h.signed(h.xml("帮助", msg_id="501"), nonce="captured")
    resp = await h.client.post("/wechat/mp", params=params, data=body)
    assert resp.status == 200 and await resp.text() == "success"
    forged = h.xml("取消", openid="oVictim00000000000000000001", msg_id="502")
    resp = await h.client.post("/wechat/mp", params=params, data=forged.encode())
    assert resp.status == 403 and "success" not in await resp.text()
    # WeChat's own retry of the first message still answers `success`, and still has one effect.
    resp = await h.client.post("/wechat/mp", params=params, data=body)
    assert resp.status == 200 and await resp.text() == "success"
    assert await h.drain() == 1
    assert [s["touser"] for s in h.fake.sent] == [OPENID]


async def test_a_pair_is_forgotten_only_when_its_timestamp_leaves_the_window(make_mp):
    h = await make_mp()
    params, body = h.signed(h.xml("帮助", msg_id="601"), nonce="n1")
    assert (await h.client.post("/wechat/mp", params=params, data=body)).status == 200
    h.clock.advance(299)
    other = h.xml("帮助", msg_id="602").encode()
    assert (await h.client.post("/wechat/mp", params=params, data=other)).status == 403
    h.clock.advance(2)  # now the timestamp itself is stale: refused by the window, not by memory
    assert (await h.client.post("/wechat/mp", params=params, data=other)).status == 403
    assert await h.drain() == 1


def test_the_in_process_ledger_is_bounded():
    """Without Redis the pairs live in memory: expired ones are dropped, and the map never passes its cap."""
    from bot.nonces import NonceLedger
    ledger = NonceLedger(None, None, "bounded-test")
    ledger.MAX_MEMORY = 3
    for i in range(10):
        assert ledger._first_in_memory(("1000", f"n{i}"), "m", now=0, expires=300)
        assert len(ledger._memory) <= 3
    assert not ledger._first_in_memory(("1000", "n9"), "other", now=0, expires=300)
    assert ledger._first_in_memory(("1000", "n9"), "other", now=301, expires=601)  # expired: forgotten
    assert list(ledger._memory) == [("1000", "n9")]
