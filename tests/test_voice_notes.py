"""Issue 12, voice notes: on WeCom, WeCom kf, Feishu and the Official Account without Recognition the recording is
downloaded at once, kept with the report it belongs to and shown to staff; the resident is asked to type. Each
channel is driven through its own wire format against the simulator's fake platform, on both backends."""
from __future__ import annotations

import base64
import json
import re

import pytest
from aiohttp.test_utils import unused_port
from sqlalchemy import select

from bot.app import create_app
from bot.feishu.client import FeishuUnavailable
from bot.runtime import run_pending
from bot.services import services_of
from bot.sim.feishu_api import INTERNAL_ERROR
from bot.wechat_mp.client import MpError
from bot.wecom.errors import RateLimited
from conversations.storage import StorageKey
from store.media import MediaStore, sniff_audio
from store.models import Photo
from tests.conftest import auth
from tests.console_steps import Desk, desk  # noqa: F401 — the fixture
from tests.test_feishu_adapter import World, feishu  # noqa: F401 — the fixture
from tests.test_wechat_mp import OPENID, Mp, make_mp  # noqa: F401 — the fixture
from tests.test_wecom_kf import ALICE, KFID, Kf, kf  # noqa: F401 — the fixture
from tests.test_wecom_webhook import WecomWorld, wecom  # noqa: F401 — the fixture

# A second of AMR-NB as WeCom, kf and the Official Account hand it over: the header, then 50 frames of 12.2 kbit/s.
AMR = b"#!AMR\n" + (b"\x3c" + bytes(range(31))) * 50
# The start of an Ogg Opus stream, as Feishu keeps an audio message: the page header, then OpusHead.
OPUS = (b"OggS\x00\x02" + bytes(8) + b"\x01\x00\x00\x00" + bytes(8) + b"\x01\x13"
        + b"OpusHead\x01\x01\x38\x01\x80\x3e\x00\x00\x00\x00\x00" + bytes(64))
REPORT = "3栋2单元1502卫生间水管漏水"
CONTACT = "王女士 13812345678"


class Channel:
    """One platform as a resident uses it: a voice note or a text through the platform's wire format, what the
    bot said back, and a transient failure of the platform's media download."""

    name: str
    user: str
    audio: bytes = AMR
    content_type = "audio/amr"
    transient_error: type[Exception]

    def __init__(self, world) -> None:
        self.world = world
        self.app = world.app

    async def voice(self, data: bytes | None) -> None:
        """A voice note; None: one the platform no longer hands over (expired media)."""
        raise NotImplementedError

    async def text(self, text: str) -> None:
        raise NotImplementedError

    def sent(self) -> list[dict]:
        raise NotImplementedError

    def transient(self) -> None:
        raise NotImplementedError

    async def drain(self) -> int:
        return await run_pending(services_of(self.app))

    async def say(self, text: str) -> str:
        before = len(self.sent())
        await self.text(text)
        await self.drain()
        return self.since(before)

    async def speak(self, data: bytes | None) -> str:
        before = len(self.sent())
        await self.voice(data)
        await self.drain()
        return self.since(before)

    def since(self, before: int) -> str:
        """Everything sent to the resident after `before`, as JSON (texts, menus and cards alike)."""
        return json.dumps(self.sent()[before:], ensure_ascii=False)

    def render(self, name: str, **ctx) -> str:
        """A template's text as it reads inside `since`'s JSON."""
        return json.dumps(services_of(self.app).texts.render(name, **ctx), ensure_ascii=False)[1:-1]


class Wecom(Channel):
    name, user, transient_error = "wecom", "lisi", RateLimited
    world: WecomWorld

    async def voice(self, data: bytes | None) -> None:
        media_id = self.world.fake.add_voice(data) if data is not None else "expired-media"
        await self.world.post(self.world.xml(self.user, "voice", MediaId=media_id, Format="amr"))

    async def text(self, text: str) -> None:
        await self.world.post(self.world.xml(self.user, Content=text))

    def sent(self) -> list[dict]:
        return self.world.fake.sent_to(self.user)

    def transient(self) -> None:
        self.world.fake.fail_next(45009, 3)   # the API's frequency limit, beyond the client's own retries


class WecomKf(Channel):
    name, user, transient_error = "wecom_kf", ALICE, RateLimited
    world: Kf

    def __init__(self, world) -> None:
        super().__init__(world)
        world.channel.client.backoff = 0   # rate-limit back-off without waiting

    async def voice(self, data: bytes | None) -> None:
        media_id = self.world.fake.add_voice(data) if data is not None else "expired-media"
        self.world.fake.customer_says(KFID, self.user, voice_media_id=media_id)
        await self.world.channel.process_kf(self.world.event())   # sync_msg now: the message waits in the inbox

    async def text(self, text: str) -> None:
        self.world.fake.customer_says(KFID, self.user, text)
        await self.world.channel.process_kf(self.world.event())

    def sent(self) -> list[dict]:
        return self.world.fake.sent_to(self.user)

    def transient(self) -> None:
        self.world.fake.fail_next(45009, 3)


class Feishu(Channel):
    name, user, transient_error = "feishu", "ou_resident", FeishuUnavailable
    audio, content_type = OPUS, "audio/ogg"
    world: World

    async def voice(self, data: bytes | None) -> None:
        key = self.world.fake.add_file(data) if data is not None else "file_v3_gone"
        await self.world.post(self.world.push.message(open_id=self.user, message_type="audio",
                                                      content={"file_key": key, "duration": 3000}))

    async def text(self, text: str) -> None:
        await self.world.post(self.world.push.message(open_id=self.user, content={"text": text}))

    def sent(self) -> list[dict]:
        return self.world.fake.sent_to(self.user)

    def transient(self) -> None:
        self.world.fake.fail_next(INTERNAL_ERROR)   # HTTP 500


class OfficialAccount(Channel):
    """Without speech recognition: the XML has MediaId and Format, no Recognition."""

    name, user, transient_error = "wechat_mp", OPENID, MpError
    world: Mp

    def __init__(self, world) -> None:
        super().__init__(world)
        world.fake.user_wrote(OPENID)   # the 48 h customer-service window is open

    async def voice(self, data: bytes | None) -> None:
        media_id = self.world.fake.add_voice(data) if data is not None else "expired-media"
        await self.world.post(self.world.xml(msg_type="voice", extra=f"<MediaId><![CDATA[{media_id}]]></MediaId>"
                                                                     "<Format><![CDATA[amr]]></Format>"))

    async def text(self, text: str) -> None:
        await self.world.post(self.world.xml(text))

    def sent(self) -> list[dict]:
        return self.world.fake.sent_to(self.user)

    def transient(self) -> None:
        self.world.fake.fail_next(-1)   # system busy


@pytest.fixture
async def mp_plain(make_mp):  # noqa: F811
    return await make_mp()


CHANNELS = {"wecom": (Wecom, "wecom"), "wecom_kf": (WecomKf, "kf"), "feishu": (Feishu, "feishu"),
            "wechat_mp": (OfficialAccount, "mp_plain")}


@pytest.fixture(params=sorted(CHANNELS))
def channel(request, backend) -> Channel:
    """Each channel on each backend (`backend` named here so the platform's fixture is built on it)."""
    kind, fixture = CHANNELS[request.param]
    return kind(request.getfixturevalue(fixture))


async def recordings(app) -> list[Photo]:
    async with services_of(app).sessions() as session:
        return list((await session.execute(select(Photo).where(Photo.kind == "voice"))).scalars())


async def ticket_json(app, client, number: str) -> dict:
    resp = await client.get(f"/api/v1/tickets/{number}", headers=auth())
    assert resp.status == 200, await resp.text()
    return await resp.json()


# --- the dialogue on every channel ---------------------------------------------------------------------------

async def test_voice_notes_are_kept_with_the_report_and_the_resident_asked_to_type(channel: Channel):
    """Before the report and in the middle of it: each recording is kept, the resident is asked to type the
    place and the phone, and the ticket filed carries both recordings for staff to hear."""
    said = await channel.speak(channel.audio)
    assert channel.render("intake/voice_unreadable.j2", has_draft=False, kept=True) in said
    assert "具体位置和联系电话" in said and "录音已保存" in said
    said = await channel.say(REPORT)               # the answer to "type the place and the phone"
    assert "姓名" in said or "电话" in said         # only the contact is missing
    said = await channel.speak(channel.audio)      # a second note, mid-report
    assert channel.render("intake/voice_unreadable.j2", has_draft=True, kept=True) in said
    assert "电话" in said                          # the contact question, asked again
    said = await channel.say(CONTACT)
    assert "语音：2 条" in said and "3栋2单元1502" in said
    said = await channel.say("确认")
    assert "已附语音 2 条" in said
    number = re.search(r"BX\d{8}-\d{4}", said).group(0)

    client = channel.world.client
    t = await ticket_json(channel.app, client, number)
    assert len(t["recordings"]) == 2 and t["photos"] == [] and t["after_photos"] == []
    assert t["events"][0]["details"]["recordings"] == 2
    for url in t["recordings"]:
        resp = await client.get(url.replace("http://testserver", ""))
        assert resp.status == 200 and resp.headers["Content-Type"] == channel.content_type
        assert await resp.read() == channel.audio
    forged = t["recordings"][0].replace("http://testserver", "")[:-4] + "0000"
    assert (await client.get(forged)).status == 403                 # the same signed links as photos
    kept = await recordings(channel.app)
    assert {(r.channel, r.uploader) for r in kept} == {(channel.name, channel.user)}


async def test_a_voice_note_the_platform_will_not_hand_over_is_answered_and_changes_nothing(channel: Channel):
    said = await channel.speak(None)
    assert channel.render("intake/voice_unreadable.j2", has_draft=False, kept=False) in said
    assert "录音已保存" not in said
    assert await recordings(channel.app) == []
    chat = KFID if channel.name == "wecom_kf" else channel.user
    state = await services_of(channel.app).storage.get(StorageKey(channel.name, chat, channel.user)) or {}
    assert not state.get("state")                                  # no draft was started
    said = await channel.say("你好")
    assert channel.render("intake/welcome.j2") in said             # the next message starts from nothing


async def test_a_transient_download_failure_leaves_the_voice_note_to_be_retried(channel: Channel):
    await channel.voice(channel.audio)
    channel.transient()
    with pytest.raises(channel.transient_error):
        await channel.drain()
    assert channel.sent() == []                   # the resident is not told we could not keep what we still can
    assert await recordings(channel.app) == []
    assert await channel.drain() == 1             # the inbox hands the item over again
    said = channel.since(0)
    assert channel.render("intake/voice_unreadable.j2", has_draft=False, kept=True) in said
    assert len(await recordings(channel.app)) == 1


# --- the Official Account with speech recognition on -------------------------------------------------------

async def test_the_official_accounts_recognition_is_the_report_and_nothing_is_downloaded(mp_plain: Mp):
    h = OfficialAccount(mp_plain)
    extra = ("<MediaId><![CDATA[v1]]></MediaId><Format><![CDATA[amr]]></Format>"
             f"<Recognition><![CDATA[{REPORT} {CONTACT}]]></Recognition>")
    await h.world.post(h.world.xml(msg_type="voice", extra=extra))
    await h.drain()
    said = h.since(0)
    assert "请核对" in said and "3栋2单元1502" in said and "语音：" not in said
    assert "听不了语音" not in said
    said = await h.say("确认")
    number = re.search(r"BX\d{8}-\d{4}", said).group(0)
    t = await ticket_json(h.app, h.world.client, number)
    assert t["recordings"] == [] and t["description"]
    assert not any(path.endswith("/media/get") for path, _ in h.world.fake.calls)


# --- where staff look: the console's ticket page and the dispatch card ------------------------------------------

async def test_staff_hear_the_recording_on_the_ticket_page_and_the_card_says_it_has_one(desk: Desk):  # noqa: F811
    r = await desk.sim.say("r7", voice_b64=base64.b64encode(AMR).decode())
    assert "录音已保存" in r[0]
    await desk.sim.say("r7", REPORT)
    await desk.sim.say("r7", CONTACT)
    number = re.search(r"BX\d{8}-\d{4}", (await desk.sim.say("r7", "确认"))[0]).group(0)
    cards = await desk.client.get("/sim/api/sent", params={"user": "zhangsan"}, headers=auth())
    assert "含语音 1 条" in await cards.text()            # the plumber's dispatch card
    sup = await desk.signed_in("13800000009")
    await sup.get(f"/admin/tickets/{number}")
    [src] = re.findall(r'<audio controls preload="none" src="([^"]+)"', sup.html)
    assert src.startswith("/media/") and "sig=" in src
    assert '<img src="/media/' not in sup.html and "没有照片" in sup.html   # a voice note is not shown as a photo
    status, _ = await sup.get(src.replace("&amp;", "&"))
    assert status == 200 and sup.headers["Content-Type"] == "audio/amr"


async def test_the_wecom_demo_plays_a_voice_note_and_the_technicians_card_says_so(aiohttp_client, make_settings,
                                                                                 clock, backend):
    """The simulator speaking WeCom: `voice_b64` becomes a voice callback whose media/get serves the AMR."""
    port = unused_port()
    settings = make_settings(service={"public_url": f"http://127.0.0.1:{port}"})
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix, demo_wecom=True)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    for body in ({"voice_b64": base64.b64encode(AMR).decode()}, {"text": f"{REPORT} {CONTACT}"}, {"text": "确认"}):
        resp = await client.post("/sim/api/wecom/say", json={"user": "r1", **body})
        assert (await resp.json())["callback_status"] == 200
        await run_pending(services_of(app))
    told = json.dumps((await (await client.get("/sim/wecom/_sent", params={"user": "r1"})).json())["sent"],
                      ensure_ascii=False)
    assert "录音已保存" in told and "已附语音 1 条" in told
    card = json.dumps((await (await client.get("/sim/wecom/_sent", params={"user": "zhangsan"})).json())["sent"],
                      ensure_ascii=False)
    assert "template_card" in card and "含语音 1 条" in card
    [kept] = await recordings(app)
    assert (kept.channel, kept.uploader, kept.content_type) == ("wecom", "r1", "audio/amr")


# --- the media store ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, kind", [
    (AMR, ("audio/amr", "amr")),
    (b"#!AMR-WB\n" + bytes(40), ("audio/amr-wb", "awb")),
    (b"\x02#!SILK_V3" + bytes(40), ("audio/silk", "silk")),
    (b"#!SILK_V3" + bytes(40), ("audio/silk", "silk")),
    (OPUS, ("audio/ogg", "ogg")),
    (b"Speex   1.2" + bytes(69), ("audio/speex", "spx")),
    (b"#!AMR\n", None),                              # a header and no sound
    (b"\x89PNG\r\n\x1a\n" + bytes(40), None),         # a photo is no recording
    (b"<html>expired</html>", None),
], ids=["amr", "amr-wb", "silk-wechat", "silk", "ogg-opus", "speex", "header-only", "png", "html"])
def test_only_recordings_the_platforms_send_are_recognised(data, kind):
    assert sniff_audio(data) == kind


def test_a_recording_over_the_cap_is_not_stored(tmp_path):
    store = MediaStore(tmp_path)
    assert store.save_audio(AMR, max_bytes=len(AMR) - 1) is None
    kept = store.save_audio(AMR, max_bytes=len(AMR))
    assert kept is not None and kept.content_type == "audio/amr" and kept.path.endswith(".amr")
    assert store.open(kept.path).read_bytes() == AMR
