"""WeCom callback XML → neutral events: the raw-payload corpus in tests/data/wecom, each file tagged."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.wecom.event import MalformedEvent, parse
from conversations.messages import ButtonPress, InboundMessage

CORPUS = sorted((Path(__file__).parent / "data" / "wecom").glob("*.xml"))
_EXPECT = re.compile(r"<!--\s*expect:\s*(\{.*?\})\s*-->", re.S)


def _expectation(path: Path) -> dict:
    m = _EXPECT.search(path.read_text(encoding="utf-8"))
    assert m, f"{path.name} has no <!-- expect: {{...}} --> tag"
    return json.loads(m.group(1))


def test_corpus_is_not_empty():
    assert {p.stem for p in CORPUS} >= {"text", "image", "template_card_event", "enter_agent"}


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_corpus_file_becomes_its_tagged_event(path):
    want = _expectation(path)
    parsed = parse(path.read_bytes())
    assert parsed.dedupe_id == want["dedupe"]
    if want["type"] is None:
        assert parsed.event is None
        return
    event = parsed.event
    assert type(event).__name__ == want["type"]
    assert event.channel == "wecom"
    for name in ("user", "chat", "text", "voice", "payload", "message_id", "reply_token"):
        if name in want:
            assert getattr(event, name) == want[name], name
    assert parsed.media_id == want.get("media_id", "")


def test_button_press_carries_payload_and_reply_token():
    parsed = parse((Path(__file__).parent / "data" / "wecom" / "template_card_event.xml").read_bytes())
    assert isinstance(parsed.event, ButtonPress)
    assert parsed.event.payload == "rb1|accept|BX20261129-0001"
    assert parsed.event.reply_token == "RC_abcdef123456"


def test_image_is_a_marker_without_bytes():
    parsed = parse((Path(__file__).parent / "data" / "wecom" / "image.xml").read_bytes())
    assert isinstance(parsed.event, InboundMessage)
    assert parsed.event.image is None and not parsed.event.image_failed
    assert parsed.media_id == "MEDIA_ID_abc123"


@pytest.mark.parametrize("xml", [
    b"<xml><FromUserName>u</FromUserName>",                         # truncated
    b"not xml at all",
    b"<xml><MsgType>text</MsgType></xml>",                          # no sender
    b"<root><FromUserName>u</FromUserName><MsgType>text</MsgType></root>",
    b'<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><FromUserName>&a;</FromUserName><MsgType>text</MsgType></xml>',
    b"<xml><FromUserName>u</FromUserName><MsgType>image</MsgType><MsgId>1</MsgId></xml>",  # image, no media
])
def test_malformed_xml_is_refused(xml):
    with pytest.raises(MalformedEvent):
        parse(xml)


def test_two_clicks_in_one_second_on_different_buttons_are_two_events():
    base = ("<xml><FromUserName>t</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType>"
            "<Event>template_card_event</Event><TaskId>T</TaskId><EventKey>{}</EventKey></xml>")
    a, b = parse(base.format("rb1|accept|BX20261129-0001")), parse(base.format("rb1|decline|BX20261129-0001"))
    assert a.dedupe_id != b.dedupe_id


def test_a_resident_may_type_markup_inside_cdata():
    """Only real declarations are refused: text that merely looks like one is a message."""
    from bot.sim.wecom_api import callback_xml
    from bot.wecom.event import parse
    xml = callback_xml("wwcorp", "u1", 1795917600, "text", Content="<!DOCTYPE 是什么？A座大堂灯坏了", MsgId="42")
    assert parse(xml).event.text == "<!DOCTYPE 是什么？A座大堂灯坏了"
