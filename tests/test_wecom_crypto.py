"""WeCom callback crypto: the public vector, our own signature and replay-window checks, round trips."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import xmltodict

from bot.wecom.crypto import BadSignature, MalformedEnvelope, StaleTimestamp, Undecryptable, WecomCrypto, signature
from store.clock import FrozenClock

# The public vector from WeCom's docs (platforms.md).
V_TOKEN, V_KEY, V_CORP = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"
V_SIG, V_TS, V_NONCE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780"
V_ECHO = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
V_PLAIN = "1616140317555161061"


def _at(ts: int) -> FrozenClock:
    return FrozenClock(datetime.fromtimestamp(ts, timezone.utc))


def test_public_vector_verifies_with_a_clock_set_to_its_time():
    crypto = WecomCrypto(V_TOKEN, V_KEY, V_CORP, _at(int(V_TS)))
    assert crypto.verify_url(V_SIG, V_TS, V_NONCE, V_ECHO) == V_PLAIN


def test_public_vector_is_refused_today_as_a_replay():
    crypto = WecomCrypto(V_TOKEN, V_KEY, V_CORP, FrozenClock(datetime(2026, 11, 29, tzinfo=timezone.utc)))
    with pytest.raises(StaleTimestamp):
        crypto.verify_url(V_SIG, V_TS, V_NONCE, V_ECHO)


def test_signature_is_sha1_of_the_sorted_four():
    assert signature(V_TOKEN, V_TS, V_NONCE, V_ECHO) == V_SIG


@pytest.mark.parametrize("field", ["sig", "ts", "nonce", "echo"])
def test_any_changed_input_breaks_the_signature(field):
    crypto = WecomCrypto(V_TOKEN, V_KEY, V_CORP, _at(int(V_TS)))
    args = {"sig": V_SIG, "ts": V_TS, "nonce": V_NONCE, "echo": V_ECHO}
    args[field] = {"sig": "0" * 40, "ts": str(int(V_TS) + 1), "nonce": "1", "echo": V_ECHO[:-4] + "AAA="}[field]
    with pytest.raises(BadSignature):
        crypto.verify_url(args["sig"], args["ts"], args["nonce"], args["echo"])


@pytest.mark.parametrize("offset, ok", [(0, True), (300, True), (-300, True), (301, False), (-301, False)])
def test_five_minute_window_both_ways(offset, ok):
    clock = _at(1_800_000_000)
    crypto = WecomCrypto(V_TOKEN, V_KEY, V_CORP, clock)
    envelope = crypto.encrypt("<xml><a>1</a></xml>", timestamp="1800000000", nonce="n")
    fields = xmltodict.parse(envelope)["xml"]
    clock.advance(offset)
    call = lambda: crypto.decrypt(envelope, fields["MsgSignature"], "1800000000", "n")  # noqa: E731
    if ok:
        assert call() == "<xml><a>1</a></xml>"
    else:
        with pytest.raises(StaleTimestamp):
            call()


def test_round_trip_keeps_chinese_text():
    crypto = WecomCrypto(V_TOKEN, V_KEY, V_CORP, _at(1_800_000_000))
    xml = "<xml><Content><![CDATA[楼道灯不亮]]></Content></xml>"
    envelope = crypto.encrypt(xml, nonce="abc")
    f = xmltodict.parse(envelope)["xml"]
    assert crypto.decrypt(envelope.encode(), f["MsgSignature"], f["TimeStamp"], f["Nonce"]) == xml


def test_signed_garbage_is_undecryptable_not_a_crash():
    crypto = WecomCrypto(V_TOKEN, V_KEY, V_CORP, _at(1_800_000_000))
    for junk in ("not base64!!", "QUJD", "A" * 44):
        body = f"<xml><Encrypt><![CDATA[{junk}]]></Encrypt></xml>"
        with pytest.raises(Undecryptable):
            crypto.decrypt(body, signature(V_TOKEN, "1800000000", "n", junk), "1800000000", "n")


def test_message_for_another_corp_is_undecryptable():
    other = WecomCrypto(V_TOKEN, V_KEY, "wwOTHERCORP", _at(1_800_000_000))
    mine = WecomCrypto(V_TOKEN, V_KEY, V_CORP, _at(1_800_000_000))
    envelope = other.encrypt("<xml/>", timestamp="1800000000", nonce="n")
    f = xmltodict.parse(envelope)["xml"]
    with pytest.raises(Undecryptable):
        mine.decrypt(envelope, f["MsgSignature"], "1800000000", "n")


@pytest.mark.parametrize("body", [b"", b"<xml>", b"<xml><Other>1</Other></xml>", b"\xff\xfe"])
def test_malformed_envelope(body):
    crypto = WecomCrypto(V_TOKEN, V_KEY, V_CORP, _at(1_800_000_000))
    with pytest.raises(MalformedEnvelope):
        crypto.decrypt(body, "0" * 40, "1800000000", "n")


def test_stale_check_uses_the_injected_clock_not_the_system_clock():
    clock = _at(1_800_000_000)
    crypto = WecomCrypto(V_TOKEN, V_KEY, V_CORP, clock)
    envelope = crypto.encrypt("<xml/>", timestamp="1800000000", nonce="n")
    f = xmltodict.parse(envelope)["xml"]
    clock.advance(timedelta(minutes=6).total_seconds())
    with pytest.raises(StaleTimestamp):
        crypto.decrypt(envelope, f["MsgSignature"], "1800000000", "n")


def test_the_envelope_wecom_sends_is_read_without_an_xml_parser(monkeypatch):
    """WeCom wraps ToUserName and AgentID in CDATA: that common shape must take the fast path
    (the webhook's throughput depends on it), and only odd envelopes fall back to the parser."""
    from bot.wecom import crypto as wecom_crypto
    body = (b"<xml><ToUserName><![CDATA[wwcorp]]></ToUserName><AgentID><![CDATA[1000002]]></AgentID>"
            b"<Encrypt><![CDATA[QUJD]]></Encrypt></xml>")
    parsed, parse = [], wecom_crypto.xml_fields
    monkeypatch.setattr(wecom_crypto, "xml_fields", lambda b: parsed.append(b) or parse(b))
    assert wecom_crypto.envelope_encrypt(body) == "QUJD" and parsed == []
    # A comment or DOCTYPE before the field: only a parser knows what it hides, so the parser reads it.
    odd = body.replace(b"<Encrypt>", b"<!-- x --><Encrypt>")
    assert wecom_crypto.envelope_encrypt(odd) == "QUJD" and parsed == [odd]
