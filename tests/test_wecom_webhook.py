"""The WeCom webhook end to end: WeCom played from outside with wechatpy's crypto, the real app, the fake API."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
import xmltodict
from aiohttp.test_utils import unused_port
from sqlalchemy import func, select

from bot.services import services_of
from bot.app import create_app
from bot.sim.wecom_api import FakeWecom, callback_xml, setup_fake_wecom
from bot.wecom.crypto import WecomCrypto, signature
from store.models import InboxItem, Photo

CORP, AGENT, SECRET = "wwtestcorp0001", 1000002, "app-secret"
TOKEN, AES_KEY = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")


@dataclass
class WecomWorld:
    client: object
    app: object
    fake: FakeWecom
    crypto: WecomCrypto
    clock: object
    presses: list
    _msgid: int = 1000

    def xml(self, user: str, msg_type: str = "text", **fields) -> str:
        if msg_type in ("text", "image", "location", "voice"):
            self._msgid += 1
            fields.setdefault("MsgId", self._msgid)
        return callback_xml(CORP, user, int(self.clock.now().timestamp()), msg_type, AGENT, **fields)

    async def post(self, xml: str, *, timestamp: int | None = None, sig: str | None = None,
                   body: bytes | None = None):
        ts = str(timestamp if timestamp is not None else int(self.clock.now().timestamp()))
        envelope = self.crypto.encrypt(xml, timestamp=ts, nonce="nonce42")
        sig = sig or xmltodict.parse(envelope)["xml"]["MsgSignature"]
        params = {"msg_signature": sig, "timestamp": ts, "nonce": "nonce42"}
        return await self.client.post("/wecom/callback", params=params, data=body if body is not None else envelope)

    async def drain(self) -> int:
        from bot.runtime import run_pending
        return await run_pending(services_of(self.app))  # as the worker would: process, then deliver through the outbox

    def texts_to(self, user: str) -> list[str]:
        return [s["payload"]["text"]["content"] for s in self.fake.sent_to(user) if s.get("msgtype") == "text"]

    def render(self, name: str, **ctx) -> str:
        return services_of(self.app).texts.render(name, **ctx)


@pytest.fixture
async def wecom(aiohttp_client, make_settings, clock, backend):
    port = unused_port()
    settings = make_settings(wecom={
        "corp_id": CORP, "agent_id": AGENT, "secret": SECRET, "token": TOKEN, "encoding_aes_key": AES_KEY,
        "api_base": f"http://127.0.0.1:{port}/sim/wecom",
    })
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix)
    fake = setup_fake_wecom(app, corp_id=CORP, secret=SECRET, clock=clock)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    channel = services_of(app).channels["wecom"]
    channel.client.backoff = 0  # rate-limit back-off without waiting: tests check what is retried, not how long
    presses: list = []

    class Record:  # the domain side of a press is tested with dispatch, not here
        async def press_and_reply(self, press) -> None:
            presses.append(press)
    channel.card_actions = Record()
    return WecomWorld(client, app, fake, WecomCrypto(TOKEN, AES_KEY, CORP, clock), clock, presses)


async def _inbox_count(app) -> int:
    if services_of(app).settings.redis.url:
        inbox = services_of(app).inbox
        return await inbox.redis.xlen(inbox.stream)
    async with services_of(app).sessions() as session:
        return (await session.execute(select(func.count()).select_from(InboxItem))).scalar_one()


async def test_url_verification_answers_the_plaintext(wecom):
    echo = wecom.crypto.encrypt("8754210987").split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    ts = str(int(wecom.clock.now().timestamp()))
    params = {"msg_signature": signature(TOKEN, ts, "n", echo), "timestamp": ts, "nonce": "n", "echostr": echo}
    resp = await wecom.client.get("/wecom/callback", params=params)
    assert resp.status == 200 and await resp.text() == "8754210987"
    params["msg_signature"] = "0" * 40
    assert (await wecom.client.get("/wecom/callback", params=params)).status == 403
    del params["echostr"]
    assert (await wecom.client.get("/wecom/callback", params=params)).status == 400


async def test_url_verification_with_a_plus_in_echostr(wecom):
    # Try nonces until the ciphertext holds a '+': decoding it twice would turn it into a space.
    ts = str(int(wecom.clock.now().timestamp()))
    for i in range(200):
        echo = wecom.crypto.encrypt(f"plain{i}").split("<Encrypt><![CDATA[")[1].split("]]>")[0]
        if "+" in echo:
            break
    else:
        pytest.fail("no '+' in 200 ciphertexts")
    params = {"msg_signature": signature(TOKEN, ts, "n", echo), "timestamp": ts, "nonce": "n", "echostr": echo}
    resp = await wecom.client.get("/wecom/callback", params=params)
    assert resp.status == 200 and await resp.text() == f"plain{i}"


async def test_text_reaches_the_engine_and_the_reply_reaches_message_send(wecom):
    resp = await wecom.post(wecom.xml("zhangsan", Content="你好"))
    assert resp.status == 200 and await resp.text() == ""
    assert wecom.fake.sent == []  # nothing happens before the worker takes the item
    assert await wecom.drain() == 1
    assert wecom.texts_to("zhangsan") == [wecom.render("intake/welcome.j2")]


async def test_image_is_downloaded_and_stored_as_a_photo(wecom):
    media_id = wecom.fake.add_media(PNG, "image/png")
    resp = await wecom.post(wecom.xml("lisi", "image", PicUrl="http://x/p.png", MediaId=media_id))
    assert resp.status == 200
    await wecom.drain()
    async with services_of(wecom.app).sessions() as session:
        photos = (await session.execute(select(Photo))).scalars().all()
    assert [(p.channel, p.uploader, p.content_type) for p in photos] == [("wecom", "lisi", "image/png")]
    [reply] = wecom.texts_to("lisi")
    assert wecom.render("intake/photo_received.j2", count=1) in reply


async def test_media_error_json_asks_the_resident_to_resend(wecom):
    resp = await wecom.post(wecom.xml("lisi", "image", PicUrl="http://x/p.png", MediaId="expired-media"))
    assert resp.status == 200
    await wecom.drain()
    assert wecom.texts_to("lisi")[0] == wecom.render("intake/photo_failed.j2")
    async with services_of(wecom.app).sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Photo))).scalar_one() == 0


async def test_a_callback_replayed_three_times_has_one_effect(wecom):
    xml = wecom.xml("wangwu", Content="你好")
    for _ in range(3):
        resp = await wecom.post(xml)
        assert resp.status == 200 and await resp.text() == ""
    assert await wecom.drain() == 1
    assert len(wecom.texts_to("wangwu")) == 1


async def test_unknown_message_type_is_ignored_with_200(wecom):
    resp = await wecom.post(wecom.xml("zhaoliu", "video", MediaId="v", ThumbMediaId="t"))
    assert resp.status == 200
    assert await _inbox_count(wecom.app) == 0
    resp = await wecom.post(wecom.xml("zhaoliu", "event", Event="enter_agent", EventKey=""))
    assert resp.status == 200
    assert await wecom.drain() == 0 and wecom.fake.sent == []


@pytest.mark.parametrize("case, status", [
    ("forged_signature", 403), ("stale_timestamp", 403), ("future_timestamp", 403),
    ("undecryptable", 400), ("malformed_envelope", 400), ("malformed_inner_xml", 400),
    ("too_big", 413), ("missing_query", 400),
])
async def test_bad_callbacks_are_refused_without_any_effect(wecom, case, status):
    now = int(wecom.clock.now().timestamp())
    xml = wecom.xml("mallory", Content="你好")
    if case == "forged_signature":
        resp = await wecom.post(xml, sig="f" * 40)
    elif case == "stale_timestamp":
        resp = await wecom.post(xml, timestamp=now - 301)
    elif case == "future_timestamp":
        resp = await wecom.post(xml, timestamp=now + 301)
    elif case == "undecryptable":
        junk = "QUJDREVGR0hJSktMTU5PUA=="
        resp = await wecom.client.post("/wecom/callback", data=f"<xml><Encrypt>{junk}</Encrypt></xml>", params={
            "msg_signature": signature(TOKEN, str(now), "n", junk), "timestamp": str(now), "nonce": "n"})
    elif case == "malformed_envelope":
        resp = await wecom.post(xml, body=b"<xml><Encrypt>")
    elif case == "malformed_inner_xml":
        resp = await wecom.post("<xml><FromUserName>mallory</FromUserName><MsgType>text")
    elif case == "too_big":
        resp = await wecom.post(xml, body=b"<xml>" + b" " * (1024 * 1024) + b"</xml>")
    else:
        resp = await wecom.client.post("/wecom/callback", data=b"<xml/>")
    assert resp.status == status
    assert await _inbox_count(wecom.app) == 0
    assert await wecom.drain() == 0
    assert wecom.fake.sent == [] and wecom.fake.token_calls == 0


async def test_chunked_body_over_the_limit_is_refused(wecom):
    async def chunks():
        for _ in range(20):
            yield b"x" * 65536
    now = str(int(wecom.clock.now().timestamp()))
    resp = await wecom.client.post("/wecom/callback", data=chunks(),
                                   params={"msg_signature": "0" * 40, "timestamp": now, "nonce": "n"})
    assert resp.status == 413


async def test_token_expiry_mid_flight_costs_exactly_one_refetch(wecom):
    await wecom.post(wecom.xml("zhangsan", Content="你好"))
    await wecom.drain()
    wecom.fake.expire_tokens()
    await wecom.post(wecom.xml("zhangsan", Content="帮助"))
    await wecom.drain()
    assert wecom.fake.token_calls == 2
    assert len(wecom.texts_to("zhangsan")) == 2
    inbox = services_of(wecom.app).inbox
    if services_of(wecom.app).settings.redis.url:  # the token lives in the shared Redis cache, under the app's prefix
        assert await inbox.redis.exists(f"{inbox.prefix}:token:wecom:{CORP}:{AGENT}") == 1


async def test_button_press_reaches_card_actions(wecom):
    xml = wecom.xml("tech01", "event", Event="template_card_event", EventKey="rb1|accept|BX20261129-0001",
                    TaskId="BX20261129-0001-tech01-1", CardType="button_interaction", ResponseCode="RC42")
    for _ in range(2):  # WeCom's retry of the same click
        assert (await wecom.post(xml)).status == 200
    assert await wecom.drain() == 1
    [press] = wecom.presses
    assert (press.channel, press.user, press.payload, press.reply_token) == (
        "wecom", "tech01", "rb1|accept|BX20261129-0001", "RC42")


async def test_messenger_is_registered_for_the_wecom_channel(wecom):
    assert services_of(wecom.app).messengers.get("wecom") is not None


async def test_a_transient_media_failure_keeps_the_item_for_a_retry(wecom):
    from bot.wecom.errors import RateLimited

    media_id = wecom.fake.add_media(PNG, "image/png")
    await wecom.post(wecom.xml("lisi", "image", PicUrl="http://x/p.png", MediaId=media_id))
    wecom.fake.fail_next(45009, 3)  # more than the client's bounded retries
    with pytest.raises(RateLimited):
        await wecom.drain()
    assert wecom.fake.sent == []  # the resident is not asked to resend a photo we can still fetch
    if services_of(wecom.app).settings.redis.url:
        # The Redis inbox hands an unacknowledged item to the next consumer after its idle time.
        services_of(wecom.app).inbox.RECLAIM_IDLE_MS = 0
    assert await wecom.drain() == 1
    [reply] = wecom.texts_to("lisi")
    assert wecom.render("intake/photo_received.j2", count=1) in reply


async def test_a_voice_note_is_answered_never_dropped(wecom):
    """Issue 12: WeCom gives no transcript; the resident is asked, politely, to type the place and phone."""
    resp = await wecom.post(wecom.xml("zhaoliu", "voice", MediaId="v", Format="amr"))
    assert resp.status == 200
    assert await wecom.drain() == 1
    texts = services_of(wecom.app).texts
    assert wecom.texts_to("zhaoliu") == [texts.render("intake/voice_unreadable.j2", has_draft=False, kept=False)]
    assert "语音" in wecom.texts_to("zhaoliu")[0] and "电话" in wecom.texts_to("zhaoliu")[0]
