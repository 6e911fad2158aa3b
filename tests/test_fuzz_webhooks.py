"""Hostile bodies on every route (issue 8): only 2xx/4xx, never a 500; nothing changes without a valid signature.

Two parts. A table of named attacks (unknown XML encodings, DTDs hidden in comments or CDATA, entity bombs,
external entities, 100,000-deep JSON, invalid UTF-8, odd content types, empty and 5 MB bodies) posted to
every route. Then a property-based fuzz with hypothesis: at least 10,000 generated requests per route —
XML-ish documents with random elements, entities and encodings, nested JSON, random bytes, valid
envelopes with bad signatures and, where the test holds the key, valid signatures around garbage.

Each route gets one app for all its examples, driven in-process on a private event loop (hypothesis
calls a synchronous function per example); derandomized, so CI sees the same examples on every run.
REPAIRBOT_FUZZ_EXAMPLES lowers the count for a quick local loop.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select
from wechatpy.crypto import WeChatCrypto
from yarl import URL

from bot.services import services_of
from bot.app import create_app
from bot.feishu.crypto import encrypt as feishu_encrypt, signature as feishu_signature
from bot.wecom.crypto import WecomCrypto, signature as wecom_signature
from bot.wechat_mp.crypto import sign as mp_sign
from store.models import InboxItem, Outbox, Ticket
from tests.conftest import TOKEN as API_TOKEN

EXAMPLES = int(os.environ.get("REPAIRBOT_FUZZ_EXAMPLES", "10000"))
NOWHERE = "http://127.0.0.1:9"  # no platform API is reached from a webhook's request path
CORP, AGENT = "wwfuzzcorp", 1000002
WECOM_TOKEN, WECOM_AES = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
MP_APP, MP_TOKEN, MP_AES = "wx-fuzz-app", "mp-fuzz-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
FS_TOKEN, FS_KEY = "fuzz-verification-token", "fuzz-encrypt-key"

# --- the named attacks ----------------------------------------------------------------------------

LAUGHS = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY l0 "lol">'
          + "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">' for i in range(1, 10))
          + ']><xml><Content>&l9;</Content></xml>')
HOSTILE: dict[str, bytes] = {
    "unknown encoding": b'<?xml version="1.0" encoding="x-unknown"?><xml><Encrypt>QUJD</Encrypt></xml>',
    "utf-16 DTD": ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE xml [<!ENTITY e "EVIL">]>'
                   '<xml><FromUserName>&e;</FromUserName><MsgType>text</MsgType><Encrypt>&e;</Encrypt>'
                   '<MsgId>1</MsgId></xml>').encode("utf-16"),
    "DTD hidden behind comment and CDATA": (b'<!-- <![CDATA[ --><!DOCTYPE xml [<!ENTITY e "E">]><!-- ]]> -->'
                                            b'<xml><FromUserName>&e;</FromUserName><Encrypt>&e;</Encrypt></xml>'),
    "DTD in CDATA-looking text": b'<![CDATA[<!DOCTYPE xml [<!ENTITY e "E">]>]]><xml><Encrypt>&e;</Encrypt></xml>',
    "billion laughs": LAUGHS.encode(),
    "external entity": (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                        b'<xml><Content>&x;</Content></xml>'),
    "external DTD": b'<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd"><xml/>',
    "parameter entity": (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p"> %p;]>'
                         b'<xml/>'),
    "100,000-deep JSON array": b"[" * 100_000 + b"]" * 100_000,
    "100,000-deep JSON object": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "1,000-deep JSON": b'{"user":' * 1000 + b'"u"' + b"}" * 1000,
    "invalid UTF-8": b'{"user": "\xff\xfe", "text": "\xc3"}',
    "invalid UTF-8 XML": b"<xml><Encrypt>\xff\xfe</Encrypt></xml>",
    "NUL escaped in JSON": b'{"user": "r\\u0000", "text": "x\\u0000", "description": "\\u0000"}',
    "lone surrogate in JSON": b'{"user": "\\ud800", "text": "\\udfff"}',
    "NaN": b'{"user": NaN, "text": Infinity}',
    "huge number": b'{"user": 1' + b"0" * 5000 + b"}",
    "empty": b"",
    "JSON array": b"[]",
    "5 MB": b'{"user": "' + b"x" * (5 * 1024 * 1024) + b'"}',
}
CONTENT_TYPES = [None, "application/json", "text/xml", "application/x-www-form-urlencoded", "text/plain",
                 "application/json; charset=x-unknown", "text/xml; charset=utf-16", "multipart/form-data; boundary=x",
                 "application/octet-stream", "\u00e9/\u00e9"]


@dataclass
class Req:
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    signed: bool = False  # carries a valid signature (or token): it may legitimately change something
    path: str = ""        # instead of the route's path (a fuzzed ticket number)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    app: str  # "platforms": WeCom + Official Account (plain) + Feishu; "mp_safe"; "zero": the zero-config demo
    share: int = 1  # the fuzz sends EXAMPLES // share requests: read-only listings get a fifth


ROUTES: dict[str, Route] = {
    "wecom GET": Route("GET", "/wecom/callback", "platforms"),
    "wecom POST": Route("POST", "/wecom/callback", "platforms"),
    "mp GET": Route("GET", "/wechat/mp", "platforms"),
    "mp POST plain": Route("POST", "/wechat/mp", "platforms"),
    "mp POST safe": Route("POST", "/wechat/mp", "mp_safe"),
    "feishu events": Route("POST", "/feishu/events", "platforms"),
    "feishu card": Route("POST", "/feishu/card", "platforms"),
    "api tickets POST": Route("POST", "/api/v1/tickets", "zero"),
    "api action POST": Route("POST", "/api/v1/tickets/BX20261129-0001/actions/accept", "zero"),
    "api tickets GET": Route("GET", "/api/v1/tickets", "zero", share=5),
    "api ticket GET": Route("GET", "/api/v1/tickets/{number}", "zero", share=5),
    "sim say": Route("POST", "/sim/api/say", "zero"),
    "sim press": Route("POST", "/sim/api/press", "zero"),
    "sim sent": Route("GET", "/sim/api/sent", "zero", share=5),
}


def _app(route: Route, make_settings, clock, backend):
    extra: dict[str, Any] = {}
    if route.app != "zero":
        mp = {"app_id": MP_APP, "secret": "s", "token": MP_TOKEN, "api_base": NOWHERE}
        if route.app == "mp_safe":
            mp["encoding_aes_key"] = MP_AES
        extra = {"wechat_mp": mp,
                 "wecom": {"corp_id": CORP, "agent_id": AGENT, "secret": "s", "token": WECOM_TOKEN,
                           "encoding_aes_key": WECOM_AES, "api_base": NOWHERE},
                 "feishu": {"app_id": "cli_fuzz", "app_secret": "s", "verification_token": FS_TOKEN,
                            "encrypt_key": FS_KEY, "api_base": NOWHERE}}
    return create_app(make_settings(**extra), clock=clock, run_background=False, redis_prefix=backend.prefix)


def _header_bytes(value: str) -> bytes:
    """A header value on the wire: U+0080–U+00FF as single bytes (so not UTF-8), the rest as UTF-8; CR, LF
    and other controls left out (no client can send them)."""
    return b"".join(bytes([ord(c)]) if ord(c) < 256 else c.encode() for c in value if " " <= c != "\x7f")


class Harness:
    """One app on a private loop; `send` is synchronous so hypothesis can call it per example.

    Requests go over a real keep-alive socket as HTTP/1.1 bytes (aiohttp's own parser reads them, chunked
    and Content-Encoding included) from a minimal client: aiohttp's ClientSession costs about 1 ms per
    request here, this about 0.3 ms, which is what lets 10,000 examples per route run in CI.
    """

    def __init__(self, app) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.server = TestServer(app)
        self.loop.run_until_complete(self.server.start_server())
        self._conns: dict[int, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}

    def send(self, method: str, path: str, req: Req) -> tuple[int, bytes]:
        return self.loop.run_until_complete(self._send(method, req.path or path, req))

    def send_many(self, method: str, path: str, reqs: list[Req]) -> list[tuple[int, bytes]]:
        """Side by side, one keep-alive connection each."""
        async def go() -> list[tuple[int, bytes]]:
            return await asyncio.gather(*(self._send(method, req.path or path, req, i) for i, req in enumerate(reqs)))
        return self.loop.run_until_complete(go())

    async def _send(self, method: str, path: str, req: Req, slot: int = 0) -> tuple[int, bytes]:
        target = str(URL(path).update_query(req.params)) if req.params else path
        headers = {"Host": "fuzz", **req.headers}
        body = req.body if method == "POST" else b""
        if method == "POST":
            headers["Content-Length"] = str(len(body))
        head = f"{method} {target} HTTP/1.1\r\n".encode() + b"".join(
            k.encode() + b": " + _header_bytes(v) + b"\r\n" for k, v in headers.items())
        for _ in range(2):  # once more on a fresh connection if the server had closed this one
            if slot not in self._conns:
                self._conns[slot] = await asyncio.open_connection(self.server.host, self.server.port)
            reader, writer = self._conns[slot]
            writer.write(head + b"\r\n" + body)
            try:
                status_line = await reader.readline()
            except ConnectionError:
                status_line = b""
            if status_line:
                break
            writer.close()
            del self._conns[slot]
        else:
            raise AssertionError(f"no answer at all to {method} {target[:200]}")
        length, close = 0, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            elif name.strip().lower() == b"connection" and b"close" in value.lower():
                close = True
        answer = await reader.readexactly(length)
        if close:
            writer.close()
            del self._conns[slot]
        return int(status_line.split()[1]), answer

    def counts(self) -> dict[str, int]:
        async def go() -> dict[str, int]:
            async with services_of(self.app).sessions() as s:
                out = {name: (await s.execute(select(func.count()).select_from(model))).scalar_one()
                       for name, model in (("tickets", Ticket), ("outbox", Outbox), ("inbox rows", InboxItem))}
            inbox = services_of(self.app).inbox
            if getattr(inbox, "redis", None) is not None:
                out["inbox stream"] = await inbox.redis.xlen(inbox.stream) if await inbox.redis.exists(
                    inbox.stream) else 0
            return out
        return self.loop.run_until_complete(go())

    def close(self) -> None:
        for _, writer in self._conns.values():
            writer.close()
        self.loop.run_until_complete(self.server.close())
        self.loop.close()


@pytest.fixture
def harness(make_settings, clock, backend):
    made: list[Harness] = []

    def make(route: Route) -> Harness:
        made.append(Harness(_app(route, make_settings, clock, backend)))
        return made[-1]
    yield make
    for h in made:
        h.close()


# --- signing: what the platform (or an attacker without the key) would send --------------------------

def _ts(clock) -> str:
    return str(int(clock.now().timestamp()))


def _wecom_envelope(encrypt: str) -> bytes:
    return f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()


def _wecom_encrypt(clock, inner: str) -> str:
    envelope = WecomCrypto(WECOM_TOKEN, WECOM_AES, CORP, clock).encrypt(inner, timestamp=_ts(clock), nonce="n")
    return envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]


def _signed(route: str, clock, mode: str, body: bytes, text: str, nonce: str,
            query: dict[str, str] | None = None) -> Req:
    """The request `mode` describes for `route`, around the drawn `body` (bytes) or `text` (an inner document)."""
    ts = _ts(clock)
    if route.startswith("wecom"):
        if mode == "signed inner":  # WeCom's key: a correctly signed and encrypted garbage document
            enc = _wecom_encrypt(clock, text)
            q = {"msg_signature": wecom_signature(WECOM_TOKEN, ts, nonce, enc), "timestamp": ts, "nonce": nonce}
            if route == "wecom GET":
                return Req({**q, "echostr": enc}, signed=True)
            return Req(q, body=_wecom_envelope(enc), signed=True)
        if mode == "signed ciphertext":  # signed, but the ciphertext is random bytes
            enc = base64.b64encode(body[:256]).decode()
            q = {"msg_signature": wecom_signature(WECOM_TOKEN, ts, nonce, enc), "timestamp": ts, "nonce": nonce}
            if route == "wecom GET":
                return Req({**q, "echostr": enc}, signed=True)
            return Req(q, body=_wecom_envelope(enc), signed=True)
        if mode == "bad signature":  # a real envelope, signed with another token
            enc = _wecom_encrypt(clock, text)
            q = {"msg_signature": wecom_signature("other", ts, nonce, enc), "timestamp": ts, "nonce": nonce}
            return Req({**q, "echostr": enc} if route == "wecom GET" else q, body=_wecom_envelope(enc))
        return Req({"msg_signature": "0" * 40, "timestamp": ts, "nonce": nonce, "echostr": text}, body=body)
    if route.startswith("mp"):
        plain_sig = mp_sign(MP_TOKEN, ts, nonce)
        if route == "mp POST safe":
            if mode == "signed inner":
                env = WeChatCrypto(MP_TOKEN, MP_AES, MP_APP).encrypt_message(text, nonce, ts)
                enc = env.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
                q = {"encrypt_type": "aes", "msg_signature": mp_sign(MP_TOKEN, ts, nonce, enc), "timestamp": ts,
                     "nonce": nonce, "signature": plain_sig}
                return Req(q, body=env.encode(), signed=True)
            if mode == "signed ciphertext":
                enc = base64.b64encode(body[:256]).decode()
                q = {"encrypt_type": "aes", "msg_signature": mp_sign(MP_TOKEN, ts, nonce, enc), "timestamp": ts,
                     "nonce": nonce}
                return Req(q, body=f"<xml><Encrypt><![CDATA[{enc}]]></Encrypt></xml>".encode(), signed=True)
            if mode == "bad signature":  # the plain signature only: safe mode must not take a plain body
                return Req({"signature": plain_sig, "timestamp": ts, "nonce": nonce}, body=body)
            return Req({"encrypt_type": "aes", "msg_signature": "0" * 40, "timestamp": ts, "nonce": nonce}, body=body)
        if mode in ("signed inner", "signed ciphertext"):  # plain mode: the signature never covers the body
            q = {"signature": plain_sig, "timestamp": ts, "nonce": nonce}
            if route == "mp GET":
                q["echostr"] = text
            return Req(q, body=text.encode("utf-8", "surrogatepass") if mode == "signed inner" else body,
                       signed=True)
        if mode == "bad signature":
            return Req({"signature": mp_sign("other", ts, nonce), "timestamp": ts, "nonce": nonce, "echostr": text},
                       body=body)
        return Req({"signature": text[:40], "timestamp": nonce, "nonce": ts}, body=body)
    if route.startswith("feishu"):
        if mode == "signed inner":  # encrypted with our key, carrying our token half of the time
            payload = text
            enc = json.dumps({"encrypt": feishu_encrypt(FS_KEY, payload, os.urandom(16))}).encode()
            return Req(headers={"X-Lark-Request-Timestamp": ts, "X-Lark-Request-Nonce": nonce,
                                "X-Lark-Signature": feishu_signature(ts, nonce, FS_KEY, enc)}, body=enc, signed=True)
        if mode == "signed ciphertext":  # a correct signature over a garbage body
            return Req(headers={"X-Lark-Request-Timestamp": ts, "X-Lark-Request-Nonce": nonce,
                                "X-Lark-Signature": feishu_signature(ts, nonce, FS_KEY, body)}, body=body, signed=True)
        if mode == "bad signature":
            enc = json.dumps({"encrypt": feishu_encrypt(FS_KEY, text, os.urandom(16))}).encode()
            return Req(headers={"X-Lark-Request-Timestamp": ts, "X-Lark-Request-Nonce": nonce,
                                "X-Lark-Signature": feishu_signature(ts, nonce, "other", enc)}, body=enc)
        return Req(headers={"X-Lark-Request-Timestamp": nonce, "X-Lark-Signature": text[:64]}, body=body)
    if route.startswith("api"):
        auth = {"Authorization": f"Bearer {API_TOKEN}"} if mode != "bad signature" else {
            "Authorization": f"Bearer {nonce}"}
        params = dict(query or {}) if route == "api tickets GET" else {}
        path = "/api/v1/tickets/" + quote((query or {}).get("number", nonce), safe="") if route == "api ticket GET" else ""
        return Req(params, headers=auth, body=body, signed=mode != "bad signature", path=path)
    # The simulator is open by design (a demo): anything may change, nothing may fail.
    return Req(dict(query or {}) if route == "sim sent" else {}, body=body, signed=True)


# --- the named attacks: every route, every attack --------------------------------------------------

def _check(route: str, req: Req, status: int, answer: bytes) -> None:
    assert status < 500, f"{route}: {status} {answer[:200]!r}"
    assert b"Traceback" not in answer
    if not req.signed:
        assert 400 <= status < 500, f"{route}: unsigned request answered {status}"


@pytest.mark.parametrize("route", list(ROUTES))
def test_named_attacks_get_a_4xx_on_every_route_and_change_nothing(harness, clock, route):
    r = ROUTES[route]
    h = harness(r)
    before = h.counts()
    for name, body in HOSTILE.items():
        for mode in ("garbage", "signed ciphertext"):
            req = _signed(route, clock, mode, body, body.decode("utf-8", "replace")[:5000], f"n-{name}")
            for ctype in (None, "application/json; charset=x-unknown", "text/xml"):
                if ctype:
                    req.headers = {**req.headers, "Content-Type": ctype}
                status, answer = h.send(r.method, r.path, req)
                _check(route, req, status, answer)
                if r.method == "POST":  # signed or not, an attack is unreadable: 4xx
                    assert 400 <= status < 500, f"{route} {name} {mode}: {status}"
        # what the signature covers, garbage inside (WeCom, the Official Account, Feishu: the test holds the key)
        if route.startswith(("wecom", "mp", "feishu")):
            req = _signed(route, clock, "signed inner", body, body.decode("utf-8", "replace")[:5000], f"i-{name}")
            status, answer = h.send(r.method, r.path, req)
            _check(route, req, status, answer)
            if r.method == "POST":
                assert 400 <= status < 500, f"{route} {name} signed inner: {status}"
    assert h.counts() == before


@pytest.mark.parametrize("target", [
    "/api/v1/tickets?page=" + "9" * 30, "/api/v1/tickets?since=0001-01-01", "/api/v1/tickets?until=9999-12-31T23:59:59-10:00",
    "/api/v1/tickets/BX%00", "/api/v1/tickets/%ED%A0%80", "/api/v1/tickets/" + "A" * 5000,
])
def test_probing_queries_and_paths_get_a_4xx(harness, target):
    """A 30-digit page overflowed the database's integer, year 1 east of UTC overflowed datetime, and a
    NUL in a ticket number reached PostgreSQL: each was a 500."""
    h = harness(ROUTES["api tickets GET"])
    status, answer = h.send("GET", target, Req(headers={"Authorization": f"Bearer {API_TOKEN}"}))
    assert 400 <= status < 500, (status, answer)
    status, _ = h.send("POST", target.split("?")[0] + "/actions/accept", Req(
        headers={"Authorization": f"Bearer {API_TOKEN}"}, body=b'{"actor": {"channel": "wecom", "user": "u"}}'))
    assert 400 <= status < 500


@pytest.mark.parametrize("route, headers", [
    ("feishu events", {"X-Lark-Request-Timestamp": "1\xff", "X-Lark-Request-Nonce": "\xe9", "X-Lark-Signature": "\xff"}),
    ("api tickets GET", {"Authorization": "Bearer \xff\xfe"}),
])
def test_a_header_that_is_not_utf8_is_a_400(harness, route, headers):
    """aiohttp keeps such bytes as surrogate escapes; the signature and the token check encoded them: 500."""
    r = ROUTES[route]
    status, answer = harness(r).send(r.method, r.path, Req(headers=headers, body=b"{}"))
    assert status == 400, (status, answer)


def test_a_5_mb_body_is_413_on_every_webhook_and_the_api(harness):
    for name in ("wecom POST", "mp POST plain", "feishu events", "feishu card", "api tickets POST",
                 "api action POST", "sim press"):
        r = ROUTES[name]
        h = harness(r)
        status, _ = h.send(r.method, r.path, Req(headers={"Authorization": f"Bearer {API_TOKEN}"},
                                                 body=HOSTILE["5 MB"]))
        assert status == 413, name


# --- the fuzz --------------------------------------------------------------------------------------

ENCODINGS = ["utf-8", "UTF-16", "utf-16le", "utf-32", "ISO-8859-1", "us-ascii", "x-unknown", "ebcdic-cp-us",
             "", "utf-7", "gb2312", "\u00e9"]
DTDS = ["", "", "", '<!DOCTYPE xml [<!ENTITY e "EVIL">]>', LAUGHS.split("?>", 1)[1].split("<xml>")[0],
        '<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>', '<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/d">',
        '<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p"> %p;]>',
        '<!-- <![CDATA[ --><!DOCTYPE xml [<!ENTITY e "E">]><!-- ]]> -->', '<![CDATA[<!DOCTYPE x>]]>',
        '<!DOCTYPE xml [<!-- x --><!ENTITY e "E">]>', "<!-- comment -->", "<?pi data?>"]
NAMES = ["xml", "ToUserName", "FromUserName", "Encrypt", "MsgType", "Content", "MsgId", "CreateTime", "Event",
         "EventKey", "TaskId", "MediaId", "OpenKfId", "Token", "AgentID", "a", "b:c", "Label"]
LEAVES = ["text", "event", "image", "location", "kf_msg_or_event", "template_card_event", "subscribe", "&e;", "&l9;",
          "&x;", "&#0;", "&#x110000;", "&amp;", "]]>", "<![CDATA[", "<!DOCTYPE x>", "%p;", "1", "1700000000",
          "oResident", "QUJD"]
KEYS = ["user", "text", "chat", "payload", "image_b64", "actor", "channel", "description", "location", "phone",
        "reporter_name", "area", "trade", "category", "visit_text", "entered_by", "schema", "header", "event",
        "type", "token", "challenge", "encrypt", "event_type", "event_id", "action", "value", "operator", "open_id",
        "message", "content", "message_id", "sender", "sender_id", "context", "p"]
JSON_SNIPPETS = ['"\\u0000"', '"\\ud800"', '"\\udfff\\ud800"', "NaN", "-Infinity", "1e999", "9" * 5000, "[" * 70 + "]" * 70,
                 '{"a":' * 65 + "1" + "}" * 65, "[" * 2000 + "]" * 2000, "", "{", '{"user":}', "\ufeff{}"]

# Bulk content comes from a `random.Random` that hypothesis draws (and replays): a few hundred hypothesis
# draws per example cost ~30 ms, this costs ~0.1 ms, and the structure below is what makes the inputs hostile.
PALETTE = list("abcXYZ019 _-:/&;%#<>\"'[]!?=") + ["]]>", "<![CDATA[", "&e;", "\x00", "\x01", "\x7f", "\u00e9",
                                                  "报修", "确认", "\U0001f600", "\ufeff", "\u2028", "\\u0000"]


def _text(rnd: random.Random, n: int = 12) -> str:
    return "".join(rnd.choices(PALETTE, k=rnd.randint(0, n)))


def _xml_node(rnd: random.Random, depth: int) -> str:
    if depth > 3 or rnd.random() < 0.4:
        leaf = rnd.choice(LEAVES) if rnd.random() < 0.5 else _text(rnd)
        return f"<![CDATA[{leaf}]]>" if rnd.random() < 0.3 else leaf
    name = rnd.choice(NAMES)
    kids = "".join(_xml_node(rnd, depth + 1) for _ in range(rnd.randint(0, 4)))
    return f"<{name}>{kids}</{name}>" if rnd.random() < 0.95 else f"<{name}>{kids}"


def xml_document(rnd: random.Random) -> str:
    encoding = rnd.choice([None, None, *ENCODINGS])
    prolog = "" if encoding is None else f'<?xml version="1.0" encoding="{encoding}"?>'
    root = rnd.choice(["xml", "xml", "xml", "a", "XML"])
    kids = "".join(_xml_node(rnd, 1) for _ in range(rnd.randint(0, 6)))
    return prolog + rnd.choice(DTDS) + f"<{root}>{kids}</{root}>" + rnd.choice(["", "", "<xml/>", "<"])


def _json_value(rnd: random.Random, depth: int) -> Any:
    kind = rnd.randint(0, 9 if depth < 4 else 5)
    if kind == 0:
        return rnd.choice([None, True, False, 0, -1, 2**63, 1.5, 1e308])
    if kind <= 3:
        return _text(rnd)
    if kind <= 5:
        return rnd.choice(JSON_WORDS)
    if kind <= 7:
        return [_json_value(rnd, depth + 1) for _ in range(rnd.randint(0, 4))]
    return {rnd.choice(KEYS) if rnd.random() < 0.8 else _text(rnd, 6): _json_value(rnd, depth + 1)
            for _ in range(rnd.randint(0, 5))}


def json_document(rnd: random.Random) -> str:
    value = _json_value(rnd, 0)
    if rnd.random() < 0.3:  # a Feishu payload carrying our token: it gets past the token check
        value = {"schema": "2.0", "header": {"token": FS_TOKEN, "event_type": rnd.choice(
            ["card.action.trigger", "im.message.receive_v1", "x"]), "event_id": _text(rnd)}, "event": value}
    elif rnd.random() < 0.2 and isinstance(value, dict):
        value.update(type="url_verification", token=FS_TOKEN)
    doc = json.dumps(value, ensure_ascii=rnd.random() < 0.5)
    if rnd.random() < 0.15:  # splice in something no JSON encoder writes
        at = rnd.randint(0, len(doc))
        doc = doc[:at] + rnd.choice(JSON_SNIPPETS) + doc[at:]
    return doc


SAFE = list("abcXYZ019 _-:/") + ["\u00e9", "报修", "确认", "水管", "\U0001f600", "\u2028", "\ufeff"]


def _field(rnd: random.Random, words: list[str]) -> str:
    """A likely value, printable text, or anything at all."""
    kind = rnd.random()
    if kind < 0.5:
        return rnd.choice(words)
    if kind < 0.97:
        return "".join(rnd.choices(SAFE, k=rnd.randint(1, 30)))
    return _text(rnd, 30)


def platform_xml(rnd: random.Random) -> str:
    """A callback as WeCom or the Official Account sends it, with fields dropped, repeated or garbled: the
    shape that gets past parsing to the message's own checks."""
    msg_type = rnd.choice(["text", "text", "text", "image", "location", "voice", "event", "event", "link",
                           _text(rnd, 6)])
    fields = {"ToUserName": CORP, "FromUserName": _field(rnd, ["zhangsan", "oResident01", ""]),
              "CreateTime": str(1795917600 + rnd.randint(-400, 400)), "MsgType": msg_type,
              "Content": _field(rnd, JSON_WORDS), "MsgId": str(rnd.getrandbits(rnd.choice([8, 63, 70]))),
              "AgentID": str(AGENT), "MediaId": _field(rnd, ["m1"]), "Label": _field(rnd, JSON_WORDS),
              "Recognition": _field(rnd, JSON_WORDS), "Event": _field(rnd, ["template_card_event", "kf_msg_or_event",
                                                                   "subscribe", "unsubscribe", "CLICK"]),
              "EventKey": _field(rnd, ["accept:BX20261129-0001", "a1", ""]), "TaskId": _field(rnd, ["t1"]),
              "OpenKfId": _field(rnd, ["wk1"]), "Token": _field(rnd, ["tk"]), "ResponseCode": _field(rnd, ["rc"])}
    parts = []
    names = rnd.sample(list(fields), rnd.randint(2, len(fields)))
    if rnd.random() < 0.8:  # the fields every callback carries, most of the time
        names = ["FromUserName", "MsgType"] + [n for n in names if n not in ("FromUserName", "MsgType")]
    for name in names:
        value = fields[name]
        parts.append(f"<{name}><![CDATA[{value}]]></{name}>" if rnd.random() < 0.7 else f"<{name}>{value}</{name}>")
        if rnd.random() < 0.05:
            parts.append(parts[-1])
    return "<xml>" + "".join(parts) + "</xml>"


def api_json(rnd: random.Random, route: str) -> Any:
    """The body the route expects, each field a likely value, a random string or the wrong type."""
    def v(words: list[str]) -> Any:
        return rnd.choice([_field(rnd, words), _field(rnd, words), _json_value(rnd, 3)])
    if route == "sim say":
        return {"user": v(["r1", "sim_tech1", ""]), "text": v(JSON_WORDS), **(
            {"image_b64": v(["aGVsbG8=", "data:image/png;base64,iVBORw0KGgo="])} if rnd.random() < 0.2 else {}),
            **({"chat": v(["g1"])} if rnd.random() < 0.2 else {})}
    if route == "sim press":
        return {"user": v(["sim_tech1", "r1"]), "payload": v(["accept:BX20261129-0001", "x", ""])}
    if route.startswith("api action"):
        return {"actor": {"channel": v(["wecom", "feishu", "sim", "api"]), "user": v(["zhangsan", "sim_tech1"])}}
    if route.startswith("feishu"):
        header = {"token": FS_TOKEN, "event_type": rnd.choice(["im.message.receive_v1", "card.action.trigger"]),
                  "event_id": _text(rnd, 10)}
        event = {"sender": {"sender_id": {"open_id": v(["ou_x"])}, "sender_type": v(["user", "app"])},
                 "message": {"message_id": v(["om_1"]), "chat_id": v(["oc_1"]), "chat_type": v(["p2p", "group"]),
                             "message_type": v(["text", "image", "post"]), "content": v(['{"text": "hi"}', "{"])},
                 "operator": {"open_id": v(["ou_t1"])}, "action": {"value": v(["accept:BX20261129-0001"])},
                 "context": {"open_message_id": v(["om_1"]), "open_chat_id": v(["oc_1"])}}
        return {"schema": "2.0", "header": header, "event": event}
    return {k: v(JSON_WORDS) for k in rnd.sample(["description", "location", "area", "reporter_name", "phone",
                                                  "category", "trade", "visit_text", "entered_by"], rnd.randint(0, 9))}


def document(rnd: random.Random, route: str = "") -> str:
    kind = rnd.random()
    if kind < 0.4:  # the route's own shape
        if route.startswith(("wecom", "mp")):
            return platform_xml(rnd)
        return json.dumps(api_json(rnd, route), ensure_ascii=rnd.random() < 0.5)
    if kind < 0.6:
        return xml_document(rnd)
    if kind < 0.95:
        return json_document(rnd)
    return rnd.choice(JSON_SNIPPETS)


SMALL_HOSTILE = [b for b in HOSTILE.values() if len(b) < 10_000]  # the big ones are posted to every route above


def body(rnd: random.Random, route: str = "") -> bytes:
    kind = rnd.random()
    if kind < 0.1:
        return rnd.randbytes(rnd.randint(0, 600))
    if kind < 0.2:
        return rnd.choice(SMALL_HOSTILE)
    codec = rnd.choice(["utf-8"] * 6 + ["utf-16", "utf-32", "gb18030"])
    raw = document(rnd, route).encode(codec, "replace" if codec == "gb18030" else "surrogatepass")
    if rnd.random() < 0.1 and raw:  # flip or cut bytes
        at = rnd.randrange(len(raw))
        raw = raw[:at] + rnd.randbytes(rnd.randint(0, 3)) + raw[at + rnd.randint(0, 3):]
    return raw


@dataclass
class Drawn:
    """One example's ingredients; the request is built from them in the test (signing uses randomness)."""

    mode: str
    body: bytes
    inner: str
    nonce: str
    content_type: str | None
    encoding: str | None
    query: dict[str, str]


def drawn(seed: int, mode: str, content_type: str | None, route: str) -> Drawn:
    """One request's ingredients from a seed hypothesis drew: shrinking moves the seed towards 0 and the
    mode and content type towards the first of their lists."""
    rnd = random.Random(seed)
    return Drawn(mode=mode, body=body(rnd, route), inner=document(rnd, route),
                 nonce=_text(rnd, 16) if rnd.random() < 0.3 else f"n{rnd.getrandbits(48)}",
                 content_type=content_type, encoding=rnd.choice([None] * 19 + ["gzip", "deflate", "br", "x-zz"]),
                 query={k: query_value(rnd) for k in rnd.sample(QUERY_KEYS, rnd.randint(0, 4))})


QUERY_KEYS = ["page", "status", "trade", "area", "since", "until", "after", "user", "number"]


def query_value(rnd: random.Random) -> str:
    """What a probe puts in a query string or a path: numbers of every size, dates at the calendar's ends."""
    kind = rnd.randint(0, 6)
    if kind == 0:
        if rnd.random() < 0.1:
            return "9" * 5000  # past Python's 4,300-digit limit for int()
        return str(rnd.choice([0, -1, 1, 2**31, 2**63, 10**30]) + rnd.randint(-1, 1))
    if kind == 1:
        offset = rnd.choice(["", "Z", "+08:00", "-10:00", "+14:00", "+23:59"])
        return f"{rnd.choice([1, 2, 1970, 2026, 9999]):04d}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 31):02d}" + (
            f"T{rnd.randint(0, 23):02d}:59:59{offset}" if rnd.random() < 0.7 else "")
    if kind == 2:
        return rnd.choice(["submitted", "accepted", "plumbing", "unit", "BX20261129-0001", "bx20261129-0001",
                           "\uff11", "\u0661", "1_000", " 1", "1e3", "NaN"])
    return _text(rnd, 24)


BATCH = 10  # requests per hypothesis example, sent side by side: the per-example cost is paid once for ten
MODES = ["garbage", "bad signature", "signed inner", "signed ciphertext"]


def batches(route: str):
    return st.lists(st.builds(drawn, st.integers(0, 2**63), st.sampled_from(MODES), st.sampled_from(CONTENT_TYPES),
                              st.just(route)), min_size=BATCH, max_size=BATCH)


JSON_WORDS = ["确认", "BX20261129-0001", "accept", FS_TOKEN, "card.action.trigger", "im.message.receive_v1",
              "url_verification", "2.0", "sim", "wecom", "13812345678", "3栋2单元1502卫生间水管爆了", "sim_tech1"]


FUZZ = settings(max_examples=EXAMPLES // BATCH, deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("route", list(ROUTES))
def test_fuzz_only_2xx_or_4xx_and_unsigned_input_changes_nothing(harness, clock, route):
    r = ROUTES[route]
    h = harness(r)
    before = h.counts()
    signed_ok = sent = 0
    quiet = logging.getLogger("bot")
    level, quiet.level = quiet.level, logging.ERROR  # thousands of refusals: keep the warnings out of the report

    @settings(FUZZ, max_examples=EXAMPLES // BATCH // r.share)
    @given(batch=batches(route))
    def one(batch: list[Drawn]) -> None:
        nonlocal signed_ok, sent
        reqs = []
        for ex in batch:
            req = _signed(route, clock, ex.mode, ex.body, ex.inner, ex.nonce or "n", ex.query)
            if ex.content_type:
                req.headers["Content-Type"] = ex.content_type
            if ex.encoding:
                req.headers["Content-Encoding"] = ex.encoding
            reqs.append(req)
        for req, (status, answer) in zip(reqs, h.send_many(r.method, r.path, reqs)):
            req.body = req.body[:2000]  # what a failure report shows
            _check(route, req, status, answer)
            signed_ok += req.signed and status < 300
        sent += len(reqs)

    try:
        one()
    finally:
        quiet.level = level
    assert sent >= EXAMPLES // r.share
    after = h.counts()
    if route.startswith("sim"):
        return  # the simulator is an open demo: a generated sentence may well start a draft
    changed = {k: after[k] - before[k] for k in after if after[k] != before[k]}
    # Only a correctly signed (or authorized) request answered 2xx may have stored something, once.
    assert all(0 <= v <= signed_ok for v in changed.values()), (changed, signed_ok)
    if route != "api tickets POST":
        assert "tickets" not in changed and "outbox" not in changed, changed
