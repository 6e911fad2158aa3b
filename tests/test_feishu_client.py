"""Feishu client and messenger against the fake open platform: tokens, idempotent sends, typed errors."""
from __future__ import annotations

import json

from datetime import datetime, timezone

import pytest
from aiohttp import web

from bot.feishu.client import FeishuClient, FeishuError, FeishuUnavailable, RateLimited, TokenError
from bot.feishu.messenger import FeishuMessenger
from relay.messengers import Delivered, DeliveryError, Recipient, Undeliverable
from bot.sim.feishu_api import BOT_NOT_IN_CHAT, NOT_UPDATE_MULTI, RATE_LIMITED, setup_fake_feishu
from bot.tokens import Tokens
from dispatch.cards import Button, Card
from store.clock import FrozenClock
from templates.texts import Texts

NOW = datetime(2026, 11, 29, 2, 0, tzinfo=timezone.utc)
CARD = Card(title="t", fields=(("a", "b"),), buttons=(Button("ok", "rb1|accept|BX20261129-0001", "primary"),),
            key="BX20261129-0001")


@pytest.fixture
async def world(aiohttp_server):
    clock = FrozenClock(NOW)
    app = web.Application()
    fake = setup_fake_feishu(app, app_id="cli_test", app_secret="s", clock=clock)
    server = await aiohttp_server(app)

    def client(secret: str = "s") -> FeishuClient:
        return FeishuClient(api_base=str(server.make_url("/sim/feishu")), app_id="cli_test", app_secret=secret,
                            tokens=Tokens(clock))
    made = []

    def make(secret: str = "s") -> FeishuClient:
        made.append(client(secret))
        return made[-1]
    yield clock, fake, make
    for c in made:
        await c.close()


async def test_the_token_is_cached_until_it_expires_then_refetched_once(world):
    clock, fake, make = world
    c = make()
    await c.send("open_id", "ou_a", "text", {"text": "1"}, "u1")
    await c.send("open_id", "ou_a", "text", {"text": "2"}, "u2")
    assert fake.token_calls == 1
    fake.expire_tokens()  # Feishu answers 99991668/99991663 for a dead token
    await c.send("open_id", "ou_a", "text", {"text": "3"}, "u3")
    assert fake.token_calls == 2 and len(fake.sent) == 3
    clock.advance(7200)
    await c.send("open_id", "ou_a", "text", {"text": "4"}, "u4")
    assert fake.token_calls == 3


async def test_a_wrong_secret_is_a_configuration_error_not_retried(world):
    _, _, make = world
    with pytest.raises(TokenError) as e:
        await make("wrong").send("open_id", "ou_a", "text", {"text": "x"}, "u")
    assert not e.value.retryable


async def test_the_same_uuid_within_an_hour_is_one_message(world):
    clock, fake, make = world
    c = make()
    first = await c.send("chat_id", "oc_x", "text", {"text": "x"}, "same")
    assert await c.send("chat_id", "oc_x", "text", {"text": "x"}, "same") == first
    assert len(fake.sent) == 1
    clock.advance(3601)
    assert await c.send("chat_id", "oc_x", "text", {"text": "x"}, "same") != first


async def test_messenger_sends_are_idempotent_and_cards_patchable(world):
    clock, fake, make = world
    m = FeishuMessenger(make(), Texts(), clock)
    to = Recipient("feishu", chat="oc_x")
    d1 = await m.send_card(to, CARD)
    d2 = await m.send_card(to, CARD)  # a retried outbox row: Feishu returns the first message
    assert d1 == d2 and len(fake.sent_to("oc_x", "interactive")) == 1
    settled = Card(title="t", status="done", key=CARD.key)
    assert await m.update_card(to, d1, settled) == Delivered(d1.message_id)
    assert fake.by_id(d1.message_id)["content"]["body"]["elements"][-1]["content"] == "**done**"
    await m.send_text(Recipient("feishu", user="ou_a"), "hello", ("是", "否"), idempotency_key="om_1:0:0")
    await m.send_text(Recipient("feishu", user="ou_a"), "hello", ("是", "否"), idempotency_key="om_1:0:0")
    # A question to one person goes as a card with its answers as buttons (bot/feishu/question.py), once.
    [question] = fake.sent_to("ou_a", "interactive")
    assert question["receive_id_type"] == "open_id" and "hello" in json.dumps(question["content"], ensure_ascii=False)
    assert "是" in json.dumps(question["content"], ensure_ascii=False)
    assert all(len(x["uuid"]) <= 50 for x in fake.sent)
    await m.send_text(Recipient("feishu", user="ou_b"), "again")
    await m.send_text(Recipient("feishu", user="ou_b"), "again")  # a retry within the minute: one message
    clock.advance(60)
    await m.send_text(Recipient("feishu", user="ou_b"), "again")  # said again later: a new message
    assert len(fake.sent_to("ou_b", "text")) == 2


async def test_errors_map_to_retry_or_dead_letter(world):
    clock, fake, make = world
    c = make()
    m = FeishuMessenger(c, Texts(), clock)
    fake.fail_next(RATE_LIMITED)
    with pytest.raises(DeliveryError) as e:
        await m.send_text(Recipient("feishu", user="ou_a"), "x")
    assert e.value.retryable and e.value.code == f"feishu:{RATE_LIMITED}"
    fake.chats = {"oc_known"}
    with pytest.raises(Undeliverable) as e:
        await m.send_card(Recipient("feishu", chat="oc_gone"), CARD)
    assert e.value.code == f"feishu:{BOT_NOT_IN_CHAT}"
    with pytest.raises(DeliveryError) as e:
        await m.update_card(Recipient("feishu", chat="oc_known"), Delivered("om_missing"), CARD)
    assert not e.value.retryable
    with pytest.raises(RateLimited):
        fake.fail_next(RATE_LIMITED)
        await c.get_image("om_1", "img")


async def test_a_server_error_with_a_code_is_retried_not_a_dead_letter(world):
    """HTTP 500 (or 429) with a JSON code says nothing about the message: the outbox retries it."""
    from bot.sim.feishu_api import INTERNAL_ERROR
    clock, fake, make = world
    m = FeishuMessenger(make(), Texts(), clock)
    fake.fail_next(INTERNAL_ERROR)
    with pytest.raises(DeliveryError) as e:
        await m.send_text(Recipient("feishu", user="ou_a"), "x")
    assert e.value.retryable and not isinstance(e.value, Undeliverable)


async def test_patching_a_card_sent_without_update_multi_is_refused(world):
    _, fake, make = world
    c = make()
    card = {"schema": "2.0", "config": {}, "body": {"elements": []}}
    mid = await c.send("chat_id", "oc_x", "interactive", card, "u")
    with pytest.raises(FeishuError) as e:
        await c.patch_card(mid, {**card, "config": {"update_multi": True}})
    assert e.value.code == NOT_UPDATE_MULTI and not e.value.retryable


async def test_images_come_as_bytes_and_a_missing_one_as_a_coded_error(world):
    _, fake, make = world
    c = make()
    key = fake.add_image(b"\x89PNG-bytes")
    assert await c.get_image("om_1", key) == b"\x89PNG-bytes"
    with pytest.raises(FeishuError) as e:
        await c.get_image("om_1", "img_unknown")
    assert getattr(e.value, "code", 0) == 234003 and not e.value.retryable


async def test_an_unreachable_api_is_retryable_and_the_url_is_not_in_the_message():
    c = FeishuClient(api_base="http://127.0.0.1:9", app_id="a", app_secret="secret-value",
                     tokens=Tokens(FrozenClock(NOW)), timeout=2)
    try:
        with pytest.raises(FeishuUnavailable) as e:
            await c.send("open_id", "ou_a", "text", {"text": "x"}, "u")
    finally:
        await c.close()
    assert e.value.retryable and "secret-value" not in str(e.value)


async def test_bot_open_id_is_read_once(world):
    _, fake, make = world
    c = make()
    assert await c.bot_open_id() == "ou_bot" and await c.bot_open_id() == "ou_bot"
    assert [p for p, _ in fake.calls].count("/sim/feishu/open-apis/bot/v3/info") == 1
