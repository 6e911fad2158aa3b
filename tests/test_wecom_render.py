"""Neutral Card → WeCom template_card / settled update / markdown, and WecomMessenger on the fake API."""
from __future__ import annotations

import re

import pytest
from aiohttp import web

from relay.messengers import Delivered, DeliveryError, Recipient, Undeliverable
from bot.sim.wecom_api import setup_fake_wecom
from bot.tokens import Tokens
from bot.wecom import render
from bot.wecom.client import WecomClient
from bot.wecom.messenger import WecomMessenger
from dispatch.cards import Button, Card
from dispatch.payloads import CardAction

CORP, SECRET, AGENT = "wwtestcorp", "s3cret", 1000002
ACCEPT = CardAction("accept", "BX20261129-0001").encode()
CARD = Card(
    title="T", fields=tuple((f"k{i}", f"v{i}") for i in range(8)), body="body",
    buttons=(Button("a", ACCEPT, "primary"), Button("b", "rb1|transfer|BX20261129-0001"),
             Button("c", "rb1|decline|BX20261129-0001", "danger")),
    emergency=True, key="BX20261129-0001", link="http://testserver/t/1",
)


def test_template_card_is_button_interaction_with_payload_keys():
    tc = render.template_card(CARD, "task-1")
    assert tc["card_type"] == "button_interaction" and tc["task_id"] == "task-1"
    assert [(b["key"], b["style"]) for b in tc["button_list"]] == [
        (ACCEPT, 1), ("rb1|transfer|BX20261129-0001", 2), ("rb1|decline|BX20261129-0001", 3)]
    assert len(tc["horizontal_content_list"]) == 6
    assert "k7" in tc["sub_title_text"] and "body" in tc["sub_title_text"]  # rows past six are not lost
    assert tc["card_action"] == {"type": 1, "url": "http://testserver/t/1"}


@pytest.mark.parametrize("user", ["zhang.san", "x" * 200, "李四"])
def test_task_id_obeys_wecoms_charset_and_length(user):
    ids = {render.task_id("BX20261129-0001", user, 1_795_924_800_000) for _ in range(50)}
    assert len(ids) == 50  # unique per copy even within one millisecond
    for t in ids:
        assert re.fullmatch(r"[0-9A-Za-z_\-@]{1,128}", t), t


def test_settled_update_greys_buttons_with_the_status():
    settled = Card(title="T", status="S", key="k")
    body = render.settled_update(settled, "RC1", AGENT)
    assert body == {"atall": 1, "agentid": AGENT, "response_code": "RC1", "button": {"replace_name": "S"}}


def test_markdown_has_bold_title_emergency_colour_and_every_field():
    md = render.markdown(CARD)
    assert md.splitlines()[0] == '<font color="warning">**T**</font>'
    assert all(f"k{i}" in md and f"v{i}" in md for i in range(8))
    assert render.markdown(Card(title="T")).splitlines()[0] == "**T**"


async def _no_sleep(seconds: float) -> None:
    """Back-off without waiting: the test checks what is retried, not how long."""


@pytest.fixture
async def messenger(aiohttp_server, clock):
    app = web.Application()
    fake = setup_fake_wecom(app, corp_id=CORP, secret=SECRET, clock=clock)
    server = await aiohttp_server(app)
    client = WecomClient(api_base=str(server.make_url("/sim/wecom")), corp_id=CORP, secret=SECRET,
                         agent_id=AGENT, tokens=Tokens(clock), sleep=_no_sleep)
    yield WecomMessenger(client, clock), fake
    await client.close()


async def test_send_text_with_options_and_to_a_chat(messenger):
    """1:1, a question's answers are a card's buttons (pressed: `opt|A`, the same as typing A); in a group
    chat, or too long for a card, they are a line to type."""
    m, fake = messenger
    fake.add_chat("grp")
    await m.send_text(Recipient("wecom", user="u1"), "hello\nsay A or B", ("A", "B"))
    await m.send_text(Recipient("wecom", user="u1", chat="grp"), "to the group", ("A", "B"))
    await m.send_text(Recipient("wecom", user="u1"), "x" * 200, ("A", "B"))
    [one, group, long] = fake.sent
    card = one["payload"]["template_card"]
    assert one["user"] == "u1" and card["card_type"] == "button_interaction"
    assert card["main_title"]["title"] == "hello" and card["sub_title_text"] == "say A or B"
    assert [(b["text"], b["key"]) for b in card["button_list"]] == [("A", "opt|A"), ("B", "opt|B")]
    assert group["chat"] == "grp" and group["payload"]["text"]["content"] == "to the group\n「A」 / 「B」"
    assert long["payload"]["text"]["content"] == "x" * 200 + "\n「A」 / 「B」"


async def test_card_one_to_one_then_settled_by_its_own_handle(messenger):
    m, fake = messenger
    to = Recipient("wecom", user="tech1")
    copy = await m.send_card(to, CARD)
    assert copy.message_id and copy.handle == fake.sent[0]["response_code"]
    assert fake.sent[0]["payload"]["template_card"]["button_list"][0]["key"] == ACCEPT
    again = await m.update_card(to, copy, Card(title="T", status="taken", key=CARD.key))
    assert again.message_id == copy.message_id
    assert fake.sent[-1]["kind"] == "card_update"
    assert fake.sent[-1]["payload"]["button"]["replace_name"] == "taken"
    with pytest.raises(DeliveryError) as err:  # the handle was single use
        await m.update_card(to, copy, Card(title="T", status="again"))
    assert not err.value.retryable


async def test_update_prefers_the_clicks_reply_token(messenger):
    m, fake = messenger
    to = Recipient("wecom", user="tech1")
    copy = await m.send_card(to, CARD)
    click = fake.click_code("tech1", fake.sent[0]["payload"]["template_card"]["task_id"])
    result = await m.update_card(to, copy, Card(title="T", status="accepted"), reply_token=click)
    assert fake.sent[-1]["payload"]["response_code"] == click
    assert result.handle == copy.handle  # the send's own code is still unused


async def test_card_to_a_chat_is_markdown(messenger):
    m, fake = messenger
    fake.add_chat("trade_plumbing")
    copy = await m.send_card(Recipient("wecom", chat="trade_plumbing"), CARD)
    assert copy.handle == ""
    assert fake.sent[0]["msgtype"] == "markdown" and "**T**" in fake.sent[0]["payload"]["markdown"]["content"]


async def test_errors_map_to_delivery_errors(messenger):
    m, fake = messenger
    fake.known_users = {"tech1"}
    with pytest.raises(Undeliverable):
        await m.send_text(Recipient("wecom", user="gone"), "x")
    fake.fail_next(45009, 3)
    with pytest.raises(DeliveryError) as err:
        await m.send_text(Recipient("wecom", user="tech1"), "x")
    assert err.value.retryable and err.value.code == "wecom:45009"
    # No response_code left: a card that still offers buttons goes out anew, a settled one stays as it is.
    fresh = await m.update_card(Recipient("wecom", user="tech1"), Delivered("m"), CARD)
    assert fresh.message_id != "m" and fresh.handle == fake.sent[-1]["response_code"]
    settled = Card(title="T", status="S", key=CARD.key)
    assert await m.update_card(Recipient("wecom", user="tech1"), Delivered("m"), settled) == Delivered("m")
