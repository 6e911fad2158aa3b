"""WeCom callback crypto: our own constant-time signature and replay-window checks, wechatpy's AES."""
from __future__ import annotations

import hashlib
import re
import secrets
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

from bot.rejections import (  # noqa: F401  (re-exported: the adapter and tests name them here)
    WINDOW, BadSignature, MalformedEnvelope, StaleTimestamp, Undecryptable, check_fresh, check_signature,
)
from bot.untrusted import Unreadable, xml_fields
from store.clock import Clock


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """WeCom's msg_signature: sha1 of the four strings sorted and concatenated."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()


class WecomCrypto:
    def __init__(self, token: str, encoding_aes_key: str, corp_id: str, clock: Clock,
                 window: int = WINDOW) -> None:
        self._token = token
        self._aes = WeChatCrypto(token, encoding_aes_key, corp_id)
        self._prp = PrpCrypto(self._aes.key)  # stateless between calls: build it once
        self.corp_id = corp_id
        self.clock = clock
        self.window = window

    def _verify(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        check_signature(signature(self._token, timestamp, nonce, encrypt), msg_signature)
        check_fresh(timestamp, self.clock, self.window)

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """GET callback verification: the plaintext to answer. Query values come already URL-decoded."""
        self._verify(msg_signature, timestamp, nonce, echostr)
        return self._decrypt(echostr)

    def decrypt(self, body: bytes | str, msg_signature: str, timestamp: str, nonce: str) -> str:
        """POST callback: the decrypted inner XML of an encrypted envelope."""
        encrypt = envelope_encrypt(body)
        self._verify(msg_signature, timestamp, nonce, encrypt)
        return self._decrypt(encrypt)

    def _decrypt(self, encrypt: str) -> str:
        try:
            # wechatpy's AES layer only: its decrypt_message would re-check the signature with `!=`.
            return self._prp.decrypt(encrypt, self.corp_id)
        except Exception as e:  # base64, AES block size, padding, UTF-8, corp id: all mean "not for us"
            raise Undecryptable(type(e).__name__) from None

    def encrypt(self, xml: str, *, timestamp: str | None = None, nonce: str | None = None) -> str:
        """An envelope the way WeCom builds it (for the simulator and tests): XML with Encrypt and MsgSignature."""
        ts = timestamp or str(int(self.clock.now().timestamp()))
        return self._aes.encrypt_message(xml, nonce or secrets.token_hex(5), ts)


_ENCRYPT = re.compile(rb"<Encrypt><!\[CDATA\[([A-Za-z0-9+/=]+)\]\]></Encrypt>")
# Before the field: CDATA sections (WeCom wraps ToUserName and AgentID in them) but no comment, DOCTYPE
# or other markup declaration that only an XML parser would read correctly.
_DECLARATION = re.compile(rb"<!(?!\[CDATA\[)")


def envelope_encrypt(body: bytes | str) -> str:
    """The Encrypt field of a callback body; malformed XML or a missing field is a MalformedEnvelope."""
    raw = body.encode() if isinstance(body, str) else body
    m = _ENCRYPT.search(raw)
    if (m and raw.lstrip().startswith(b"<xml>") and raw.count(b"<Encrypt>") == 1
            and not _DECLARATION.search(raw, 0, m.start())):
        # The common case, as WeCom sends it: only base64 inside, so no XML parser is needed.
        return m.group(1).decode()
    try:
        root = xml_fields(raw)
    except Unreadable as e:
        raise MalformedEnvelope(str(e)) from None
    encrypt = root.get("Encrypt")
    if not isinstance(encrypt, str) or not encrypt:
        raise MalformedEnvelope("no Encrypt field")
    return encrypt
