"""Feishu callback crypto: the public vector, and wire compatibility with lark_oapi's own checks."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from bot.feishu import crypto
from bot.feishu.crypto import BadSignature, BadToken, FeishuCrypto, MalformedBody, StaleTimestamp, Undecryptable
from bot.sim.feishu_api import FeishuPusher
from store.clock import FrozenClock

NOW = datetime(2026, 11, 29, 2, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def lark():
    # Imported only here: ≈2 s and ≈175 MB, which the service never pays (see bot/feishu/adapter.py).
    import lark_oapi
    from lark_oapi.core.utils.decryptor import AESCipher
    from lark_oapi.event.dispatcher_handler import EventDispatcherHandler
    return lark_oapi, AESCipher, EventDispatcherHandler


def test_public_vector_from_feishu_docs():
    assert crypto.decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=") == "hello world"


def test_lark_oapi_decrypts_what_our_platform_side_encrypts(lark):
    _, AESCipher, _ = lark
    text = json.dumps({"event": "报修 ✓"}, ensure_ascii=False)
    for length in range(0, 40):  # every padding length
        plain = text + "x" * length
        enc = crypto.encrypt("ek", plain, bytes(range(16)))
        assert AESCipher("ek").decrypt_str(enc) == plain == crypto.decrypt("ek", enc)


def test_lark_oapi_accepts_our_signature(lark):
    lark_oapi, _, Handler = lark
    pusher = FeishuPusher("vt", "ek", clock=FrozenClock(NOW))
    headers, body = pusher.request(pusher.message(open_id="ou_a", content={"text": "hi"}))
    req = lark_oapi.RawRequest()
    req.headers, req.body = headers, body
    handler = Handler.builder("ek", "vt").build()
    handler._verify_sign(req, "ek")  # raises on a mismatch
    assert json.loads(handler._decrypt(body, "ek"))["header"]["token"] == "vt"
    req.body = body + b" "
    with pytest.raises(Exception):
        handler._verify_sign(req, "ek")


def _open(c: FeishuCrypto, headers: dict, body: bytes) -> dict:
    return c.open(body, headers.get("X-Lark-Request-Timestamp", ""), headers.get("X-Lark-Request-Nonce", ""),
                  headers.get("X-Lark-Signature", ""))


def test_open_verifies_decrypts_and_checks_the_token():
    clock = FrozenClock(NOW)
    c, pusher = FeishuCrypto("vt", "ek", clock), FeishuPusher("vt", "ek", clock=clock)
    payload = pusher.message(open_id="ou_a", content={"text": "hi"})
    assert _open(c, *pusher.request(payload)) == payload
    headers, body = pusher.request(payload)
    with pytest.raises(BadSignature):
        _open(c, {**headers, "X-Lark-Signature": "0" * 64}, body)
    with pytest.raises(BadSignature):
        _open(c, {}, body)  # unsigned, and not a url_verification
    with pytest.raises(StaleTimestamp):
        _open(c, *pusher.request(payload, timestamp=int(NOW.timestamp()) - 301))
    with pytest.raises(BadToken):
        _open(c, *FeishuPusher("other", "ek", clock=clock).request(payload | {"header": {"token": "other"}}))
    for garbage in (crypto.encrypt("another key", json.dumps(payload), bytes(16)), "bm90IGNpcGhlcg==", "%%"):
        body = json.dumps({"encrypt": garbage}).encode()  # correctly signed, but not our ciphertext
        ts = str(int(NOW.timestamp()))
        with pytest.raises(Undecryptable):
            c.open(body, ts, "n", crypto.signature(ts, "n", "ek", body))
    with pytest.raises(Undecryptable):
        _open(c, *FeishuPusher("vt", "", clock=clock).request(payload))  # plaintext while a key is set
    with pytest.raises(MalformedBody):
        c.open(b"not json", "", "", "")


def test_url_verification_may_come_unsigned_but_must_decrypt_and_carry_the_token():
    clock = FrozenClock(NOW)
    c, pusher = FeishuCrypto("vt", "ek", clock), FeishuPusher("vt", "ek", clock=clock)
    headers, body = pusher.request(pusher.url_verification("abc"))
    assert c.open(body, "", "", "")["challenge"] == "abc"
    with pytest.raises(BadToken):
        _open(c, *pusher.request({"challenge": "abc", "token": "wrong", "type": "url_verification"}))


def test_without_an_encrypt_key_plaintext_and_token_only():
    c = FeishuCrypto("vt", "", FrozenClock(NOW))
    assert c.open(json.dumps({"type": "url_verification", "token": "vt", "challenge": "x"}).encode(), "", "", "")
    with pytest.raises(BadToken):
        c.open(json.dumps({"schema": "2.0", "header": {"token": "no"}}).encode(), "", "", "")
