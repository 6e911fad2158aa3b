"""Feishu raw payloads → neutral events (tests/data/feishu/*.json, each tagged), and Card JSON 2.0 rendering."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.feishu import render
from bot.feishu.event import CARD_ACTION, MESSAGE, MalformedEvent, card_press, envelope, message
from dispatch.cards import Button, Card

CORPUS = sorted((Path(__file__).parent / "data" / "feishu").glob("*.json"))
BOT = "ou_bot"


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_corpus_payload_becomes_its_tagged_event(path):
    case = json.loads(path.read_text(encoding="utf-8"))
    expect, payload = case["expect"], case["payload"]
    env = envelope(payload)
    assert (env.type, env.dedupe_id) == (expect["type"], expect["dedupe"])
    if "challenge" in expect:
        assert env.challenge == expect["challenge"]
    if env.type == MESSAGE:
        m = message(payload)
        want = expect["message"]
        addressed = (m.mentions_of(BOT) if m.is_group else True) and not m.from_app
        assert {"chat": m.chat_id, "user": m.open_id, "text": m.text_without(BOT) if m.mentions else m.text,
                "image_key": m.image_key, "group": m.is_group, "addressed": addressed} == \
               {k: want[k] for k in ("chat", "user", "text", "image_key", "group", "addressed")}
        assert m.from_app == want.get("from_app", False)
        assert (m.message_type not in ("text", "image", "post")) == want.get("unsupported", False)
    elif env.type == CARD_ACTION:
        p = card_press(payload)
        assert {k: getattr(p, k) for k in expect["press"]} == expect["press"]
        assert p.reply_token == ""  # event.token is Feishu's card update token: not ours to keep


def test_corpus_covers_every_kind():
    kinds = {json.loads(p.read_text(encoding="utf-8"))["payload"].get("event", {}).get("message", {})
             .get("message_type") for p in CORPUS}
    assert {"text", "image", "post", "audio"} <= kinds


def test_a_message_without_ids_is_malformed():
    with pytest.raises(MalformedEvent):
        envelope({"schema": "2.0", "header": {"event_type": MESSAGE, "event_id": "e"}, "event": {"message": {}}})
    with pytest.raises(MalformedEvent):
        message({"event": {"message": {"message_id": "om_1"}}})


def test_mention_keys_are_replaced_longest_first():
    payload = json.loads((Path(__file__).parent / "data" / "feishu" / "group_mention.json").read_text())["payload"]
    inner = payload["event"]["message"]
    inner["content"] = json.dumps({"text": "@_user_1 @_user_10 hi"})
    inner["mentions"] = [{"key": "@_user_1", "id": {"open_id": BOT}, "name": "bot"},
                         {"key": "@_user_10", "id": {"open_id": "ou_x"}, "name": "x"}]
    assert message(payload).text_without(BOT) == "@x hi"


def test_a_click_value_sent_as_a_json_string_is_read_too():
    from bot.feishu.event import button_payload
    assert button_payload('{"p": "rb1|accept|BX20261129-0001"}') == "rb1|accept|BX20261129-0001"
    assert button_payload({"other": 1}) == "" and button_payload(None) == ""


CARD = Card(title="水电维修 · BX20261129-0001", fields=(("位置", "9栋 *2单元* 301"), ("报修人", "刘女士 139****5678")),
            buttons=(Button("接单", "rb1|accept|BX20261129-0001", "primary"),
                     Button("转派", "rb1|transfer|BX20261129-0001"),
                     Button("无法处理", "rb1|decline|BX20261129-0001", "danger")), key="BX20261129-0001")


def _buttons(native: dict) -> list[dict]:
    out = []
    for el in native["body"]["elements"]:
        for col in el.get("columns", []):
            out += [e for e in col["elements"] if e["tag"] == "button"]
    return out


def test_card_is_json_2_with_update_multi_and_callback_buttons():
    native = render.card(CARD)
    assert native["schema"] == "2.0" and native["config"]["update_multi"] is True
    assert native["header"]["title"]["content"] == CARD.title and native["header"]["template"] == "blue"
    buttons = _buttons(native)
    assert [b["text"]["content"] for b in buttons] == ["接单", "转派", "无法处理"]
    assert [b["type"] for b in buttons] == ["primary", "default", "danger"]
    assert buttons[0]["behaviors"] == [{"type": "callback", "value": {"p": "rb1|accept|BX20261129-0001"}}]
    json.dumps(native)  # serialisable as the message content


def test_markdown_shows_what_people_typed_and_never_mentions_everyone():
    native = render.card(Card(title="t", fields=(("描述", "<at id=all></at> **x** [a](b)"), ("电话", "139****5678"))))
    md = native["body"]["elements"][0]["content"]
    assert "<at" not in md and "**x**" not in md and "](" not in md and "****" not in md
    assert md.startswith("**描述**：")


def test_settled_card_shows_status_instead_of_buttons_and_emergency_is_red():
    settled = render.card(Card(title="t", status="已被 张师傅 接单", emergency=True))
    assert _buttons(settled) == [] and settled["header"]["template"] == "red"
    assert "已被 张师傅 接单" in settled["body"]["elements"][-1]["content"]
    assert render.card(Card(title="t", status="done"))["header"]["template"] == "grey"


def test_text_content_mentions_the_resident_in_a_group_and_defuses_at_tags():
    assert render.text_content("hi") == {"text": "hi"}
    assert render.text_content("hi", mention="ou_a") == {"text": '<at user_id="ou_a"></at> hi'}
    assert "<at" not in render.text_content('<at user_id="all"></at>')["text"]
    assert render.text_content("x", mention='ou_"><at user_id="all')["text"].count("<at") == 1
