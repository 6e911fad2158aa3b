"""The Feishu channel end to end: Feishu played from outside (encrypted, signed), the real app, the fake API."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import unused_port
from sqlalchemy import func, select

from bot.services import services_of
from bot.app import create_app
from bot.runtime import run_pending
from bot.sim.feishu_api import FakeFeishu, FeishuPusher, setup_fake_feishu
from conversations.storage import StorageKey
from dispatch.payloads import CardAction
from store.models import Photo, Ticket, TicketEvent
from tests.conftest import auth

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")
REPORT = ["9栋2单元301马桶堵了", "刘女士 13912345678", "确认"]
GROUP = "oc_x"
TECHS = [f"ou_t{i}" for i in range(10)]
STAFF = [{"name": f"师傅{i}", "role": "technician", "trades": ["plumbing"], "phone": f"1380000{i:04d}",
          "feishu_open_id": TECHS[i]} for i in range(10)] + [
    {"name": "李师傅", "role": "technician", "trades": ["electrical"], "phone": "13800009999",
     "feishu_open_id": "ou_elec"},
    {"name": "王主管", "role": "supervisor", "trades": ["plumbing"], "phone": "13800008888",
     "feishu_open_id": "ou_sup"}]
TRADES = [{"key": "plumbing", "name": "水", "feishu_chat_id": GROUP}, {"key": "electrical", "name": "电"}]


@dataclass
class World:
    client: object
    app: object
    fake: FakeFeishu
    push: FeishuPusher

    async def post(self, payload: dict, path: str = "/feishu/events", **kw):
        headers, body = self.push.request(payload, **kw)
        return await self.client.post(path, data=body, headers=headers)

    async def say(self, open_id: str, text: str, *, chat: str = "", mention: bool = False) -> list[str]:
        """A resident's text, as Feishu delivers it; returns what the bot sent back to that chat/person."""
        before = len(self.fake.sent)
        kw = {}
        if chat:
            kw = {"chat_id": chat, "chat_type": "group"}
            if mention:
                text = "@_user_1 " + text
                kw["mentions"] = [{"key": "@_user_1", "id": {"open_id": self.fake.bot_open_id}, "name": "bot"}]
        resp = await self.post(self.push.message(open_id=open_id, content={"text": text}, **kw))
        assert resp.status == 200 and await resp.json() == {}
        await run_pending(services_of(self.app))
        return [m["content"]["text"] for m in self.fake.sent[before:] if m["msg_type"] == "text"]

    async def report(self, open_id: str = "ou_resident") -> str:
        for text in REPORT:
            replies = await self.say(open_id, text)
        return replies[0].split("单号 ")[1].split()[0]

    def cards(self, chat: str = GROUP) -> list[dict]:
        return self.fake.sent_to(chat, "interactive")

    async def click(self, open_id: str, card: dict, action: str, number: str, **kw) -> dict:
        payload = self.push.card_action(open_id=open_id, value={"p": CardAction(action, number).encode()},
                                        chat_id=card["chat_id"], message_id=card["message_id"], **kw)
        resp = await self.post(payload, path="/feishu/card")
        assert resp.status == 200, await resp.text()
        return await resp.json()

    def render(self, name: str, **ctx) -> str:
        return services_of(self.app).texts.render(name, **ctx)


def _world(aiohttp_client, make_settings, clock, backend, **extra):
    async def make() -> World:
        port = unused_port()
        settings = make_settings(feishu={"app_id": "cli_test", "app_secret": "s", "verification_token": "vt",
                                         "encrypt_key": "ek", "api_base": f"http://127.0.0.1:{port}/sim/feishu"},
                                 trades=TRADES, staff=STAFF, **extra)
        app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix)
        fake = setup_fake_feishu(app, app_id="cli_test", app_secret="s", clock=clock)
        client = await aiohttp_client(app, server_kwargs={"port": port})
        return World(client, app, fake, FeishuPusher("vt", "ek", clock=clock))
    return make()


@pytest.fixture
async def feishu(aiohttp_client, make_settings, clock, backend):
    return await _world(aiohttp_client, make_settings, clock, backend)


async def _nothing_pending(w: World) -> bool:
    seen = []

    async def record(item):
        seen.append(item)
    await services_of(w.app).inbox.drain(record)
    return seen == []


async def test_url_verification_answers_the_challenge(feishu):
    resp = await feishu.post(feishu.push.url_verification("ch-123"))
    assert resp.status == 200 and await resp.json() == {"challenge": "ch-123"}
    headers, body = feishu.push.request(feishu.push.url_verification("ch-456"))
    resp = await feishu.client.post("/feishu/events", data=body)  # Feishu's SDK does not require a signature here
    assert await resp.json() == {"challenge": "ch-456"}


async def test_p2p_text_is_answered_through_the_api_with_a_uuid(feishu):
    [reply] = await feishu.say("ou_resident", "9栋2单元301马桶堵了")
    [sent] = feishu.fake.sent_to("ou_resident")
    assert sent["receive_id_type"] == "open_id" and sent["uuid"] and reply == sent["content"]["text"]
    assert reply  # the engine's next question


async def test_an_image_is_downloaded_at_once_and_stored(feishu):
    key = feishu.fake.add_image(PNG)
    resp = await feishu.post(feishu.push.message(open_id="ou_resident", message_type="image",
                                                 content={"image_key": key}))
    assert resp.status == 200
    await run_pending(services_of(feishu.app))
    async with services_of(feishu.app).sessions() as s:
        photos = list((await s.execute(select(Photo))).scalars())
    assert [(p.channel, p.uploader) for p in photos] == [("feishu", "ou_resident")]
    assert any("已收到照片" in m["content"]["text"] for m in feishu.fake.sent_to("ou_resident"))


async def test_an_image_feishu_will_not_hand_over_asks_for_a_resend(feishu):
    await feishu.post(feishu.push.message(open_id="ou_resident", message_type="image",
                                          content={"image_key": "img_v3_gone"}))
    await run_pending(services_of(feishu.app))
    [sent] = feishu.fake.sent_to("ou_resident")
    assert sent["content"]["text"] == feishu.render("intake/photo_failed.j2")


async def test_rich_text_post_gives_its_words_and_its_first_photo(feishu):
    key = feishu.fake.add_image(PNG)
    content = {"title": "", "content": [[{"tag": "text", "text": "9栋2单元301"}, {"tag": "text", "text": "马桶堵了"}],
                                        [{"tag": "img", "image_key": key}, {"tag": "img", "image_key": "img_second"}]]}
    await feishu.post(feishu.push.message(open_id="ou_resident", message_type="post", content=content))
    await run_pending(services_of(feishu.app))
    async with services_of(feishu.app).sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Photo))).scalar() == 1
    draft = await services_of(feishu.app).storage.get(StorageKey("feishu", "ou_resident", "ou_resident"))
    assert "马桶" in json.dumps(draft, ensure_ascii=False) and len(draft["photo_ids"]) == 1


async def test_in_a_group_only_a_mention_of_the_bot_is_answered_and_in_the_group(feishu):
    assert await feishu.say("ou_r1", "大家好", chat="oc_group") == []
    other = [{"key": "@_user_1", "id": {"open_id": "ou_someone"}, "name": "someone"}]
    await feishu.post(feishu.push.message(open_id="ou_r1", chat_id="oc_group", chat_type="group",
                                          content={"text": "@_user_1 9栋漏水"}, mentions=other))
    await run_pending(services_of(feishu.app))
    assert feishu.fake.sent == []
    [reply] = await feishu.say("ou_r1", "9栋2单元301马桶堵了", chat="oc_group", mention=True)
    [sent] = feishu.fake.sent
    assert sent["receive_id_type"] == "chat_id" and sent["receive_id"] == "oc_group"
    assert reply.startswith('<at user_id="ou_r1"></at>')  # the resident sees it is for them
    draft = await services_of(feishu.app).storage.get(StorageKey("feishu", "oc_group", "ou_r1"))
    assert "@_user_1" not in json.dumps(draft, ensure_ascii=False)


async def test_two_residents_in_one_group_keep_separate_drafts(feishu):
    await feishu.say("ou_r1", "9栋2单元301马桶堵了", chat="oc_group", mention=True)
    await feishu.say("ou_r2", "3栋楼道灯坏了", chat="oc_group", mention=True)
    storage = services_of(feishu.app).storage
    d1 = await storage.get(StorageKey("feishu", "oc_group", "ou_r1"))
    d2 = await storage.get(StorageKey("feishu", "oc_group", "ou_r2"))
    assert "马桶" in json.dumps(d1, ensure_ascii=False) and "马桶" not in json.dumps(d2, ensure_ascii=False)
    assert "灯" in json.dumps(d2, ensure_ascii=False)


async def test_a_delivery_repeated_four_times_has_one_effect(feishu):
    payload = feishu.push.message(open_id="ou_resident", content={"text": "9栋2单元301马桶堵了"})
    for _ in range(4):  # Feishu re-signs each retry
        resp = await feishu.post(payload)
        assert resp.status == 200
    again = feishu.push.message(open_id="ou_resident", content={"text": "9栋2单元301马桶堵了"},
                                message_id=payload["event"]["message"]["message_id"])  # a new event_id, same message
    assert (await feishu.post(again)).status == 200
    await run_pending(services_of(feishu.app))
    assert len(feishu.fake.sent_to("ou_resident")) == 1


@pytest.mark.parametrize("defect", ["signature", "token", "stale", "undecryptable", "plaintext", "unsigned"])
async def test_unverifiable_callbacks_are_refused_and_change_nothing(feishu, defect):
    push = feishu.push
    payload = push.message(open_id="ou_resident", content={"text": "9栋2单元301马桶堵了"})
    headers, body = push.request(payload)
    if defect == "signature":
        headers["X-Lark-Signature"] = "0" * 64
    elif defect == "token":
        headers, body = push.request({**payload, "header": {**payload["header"], "token": "forged"}})
    elif defect == "stale":
        headers, body = push.request(payload, timestamp=int(services_of(feishu.app).clock.now().timestamp()) - 600)
    elif defect == "undecryptable":
        headers, body = FeishuPusher("vt", "wrong key", clock=push.clock).request(payload)
        from bot.feishu.crypto import signature
        headers["X-Lark-Signature"] = signature(headers["X-Lark-Request-Timestamp"],
                                                headers["X-Lark-Request-Nonce"], "ek", body)
    elif defect == "plaintext":
        headers, body = {}, json.dumps(payload).encode()
    elif defect == "unsigned":
        headers = {}
    resp = await feishu.client.post("/feishu/events", data=body, headers=headers)
    assert resp.status in (400, 403)
    assert resp.status == (400 if defect in ("undecryptable", "plaintext") else 403)
    assert await _nothing_pending(feishu) and feishu.fake.sent == []


async def test_oversized_and_unreadable_bodies(feishu):
    resp = await feishu.client.post("/feishu/events", data=b"x" * (1024 * 1024 + 1))
    assert resp.status == 413
    resp = await feishu.client.post("/feishu/events", data=b"not json")
    assert resp.status == 400
    assert await _nothing_pending(feishu)


async def test_an_event_type_we_did_not_subscribe_is_acknowledged_and_ignored(feishu):
    payload = {"schema": "2.0", "header": feishu.push.header("im.chat.member.bot.added_v1"),
               "event": {"chat_id": "oc_new"}}
    resp = await feishu.post(payload)
    assert resp.status == 200 and await resp.json() == {}
    assert await _nothing_pending(feishu)


async def test_unsupported_message_types_get_the_standard_answer(feishu):
    await feishu.post(feishu.push.message(open_id="ou_resident", message_type="file",
                                          content={"file_key": "f", "file_name": "a.pdf"}))
    await run_pending(services_of(feishu.app))
    [sent] = feishu.fake.sent_to("ou_resident")
    assert sent["content"]["text"] == feishu.render("channels/unsupported.j2")


async def test_an_audio_message_is_answered_with_a_request_to_type(feishu):
    """Issue 12: Feishu audio has no transcript; never silence, ask for the place and phone as text."""
    await feishu.post(feishu.push.message(open_id="ou_resident", message_type="audio",
                                          content={"file_key": "f", "duration": 3000}))
    await run_pending(services_of(feishu.app))
    [sent] = feishu.fake.sent_to("ou_resident")
    assert sent["content"]["text"] == feishu.render("intake/voice_unreadable.j2", has_draft=False, kept=False)


async def test_messages_from_bots_are_never_answered(feishu):
    await feishu.post(feishu.push.message(open_id="ou_bot", sender_type="app", content={"text": "hi"}))
    await run_pending(services_of(feishu.app))
    assert feishu.fake.sent == []


# --- dispatch: one interactive card in the trade's group ------------------------------------------

def _buttons(card_json: dict) -> list[str]:
    return [e["text"]["content"] for el in card_json["body"]["elements"] for col in el.get("columns", [])
            for e in col["elements"] if e["tag"] == "button"]


async def test_the_group_card_reaches_the_trade_chat_with_buttons(feishu):
    number = await feishu.report()
    [card] = feishu.cards()
    assert card["receive_id_type"] == "chat_id" and card["content"]["config"]["update_multi"] is True
    assert _buttons(card["content"]) == ["接单", "转派", "无法处理"]
    text = json.dumps(card["content"], ensure_ascii=False)
    assert number in text and "13912345678" not in text  # the group sees a masked phone
    assert all(feishu.fake.sent_to(t, "interactive") == [] for t in TECHS)  # no 1:1 copies beside the group card


async def test_a_click_answers_inline_with_a_toast_and_the_updated_card(feishu):
    number = await feishu.report()
    [card] = feishu.cards()
    answer = await feishu.click("ou_t3", card, "accept", number)
    assert answer["toast"]["type"] == "success" and "接单成功" in answer["toast"]["content"]
    data = answer["card"]["data"]
    assert answer["card"]["type"] == "raw" and _buttons(data) == []
    assert "已被 师傅3 接单" in json.dumps(data, ensure_ascii=False)
    await run_pending(services_of(feishu.app))
    patched = feishu.fake.by_id(card["message_id"])
    assert patched["updates"] and _buttons(patched["content"]) == []  # the outbox rewrote the copy as well
    assert any("师傅3" in m["content"].get("text", "") for m in feishu.fake.sent_to("ou_resident"))  # resident told
    answer = await feishu.click("ou_t4", card, "accept", number)
    assert answer["toast"]["type"] == "info" and "已被 师傅3 接单" in answer["toast"]["content"]


async def test_a_click_delivered_twice_is_pressed_once(feishu):
    number = await feishu.report()
    [card] = feishu.cards()
    first = await feishu.click("ou_t1", card, "transfer", number, event_id="ev_dup")
    again = await feishu.click("ou_t1", card, "transfer", number, event_id="ev_dup")
    assert first["toast"]["type"] == "success" and again["toast"] == first["toast"]  # the first answer again
    assert again["card"]["data"] == first["card"]["data"]
    async with services_of(feishu.app).sessions() as s:
        actions = list((await s.execute(select(TicketEvent.action))).scalars())
    assert actions.count("transfer_requested") == 1


async def test_ten_technicians_clicking_at_once_get_one_assignee(feishu):
    number = await feishu.report()
    [card] = feishu.cards()
    answers = await asyncio.gather(*(feishu.click(t, card, "accept", number) for t in TECHS))
    kinds = [a["toast"]["type"] for a in answers]
    assert kinds.count("success") == 1 and kinds.count("info") == 9
    winner = STAFF[kinds.index("success")]["name"]
    assert all(f"已被 {winner} 接单" in a["toast"]["content"] for a in answers if a["toast"]["type"] == "info")
    async with services_of(feishu.app).sessions() as s:
        t = (await s.execute(select(Ticket).where(Ticket.number == number))).scalar_one()
        accepted = (await s.execute(select(func.count()).select_from(TicketEvent)
                                    .where(TicketEvent.action == "accepted"))).scalar()
    assert t.assignee.name == winner and accepted == 1


async def test_someone_outside_the_trade_is_told_and_nothing_changes(feishu):
    number = await feishu.report()
    [card] = feishu.cards()
    answer = await feishu.click("ou_elec", card, "accept", number)
    assert answer["toast"]["type"] == "warning" and _buttons(answer["card"]["data"]) == ["接单", "转派", "无法处理"]
    answer = await feishu.click("ou_t1", card, "accept", "BX20000101-0001")
    assert answer["toast"]["type"] == "error" and "card" not in answer


async def test_a_ticket_reported_on_the_simulator_is_dispatched_to_the_feishu_group(
        aiohttp_client, make_settings, clock, backend):
    w = await _world(aiohttp_client, make_settings, clock, backend, service={"demo": True})
    for text in REPORT:
        resp = await w.client.post("/sim/api/say", json={"user": "sim_resident", "text": text}, headers=auth())
        assert resp.status == 200
    number = (await resp.json())["replies"][0]["text"].split("单号 ")[1].split()[0]
    await run_pending(services_of(w.app))
    [card] = w.cards()
    answer = await w.click("ou_t7", card, "accept", number)
    assert answer["toast"]["type"] == "success" and _buttons(answer["card"]["data"]) == []
    await run_pending(services_of(w.app))
    told = [i["text"] for i in (await (await w.client.get("/sim/api/sent", params={"user": "sim_resident"},
                                                          headers=auth())).json())
            ["sent"] if i["proactive"]]
    assert any("师傅7" in t for t in told)
