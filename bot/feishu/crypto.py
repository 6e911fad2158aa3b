"""Feishu callback verification and decryption, done with `cryptography` (lark_oapi is never imported here).

Order of checks, all before anything is stored: signature over the raw body (constant time) and a 5-minute
timestamp window, then AES-256-CBC decryption, then the verification token inside the plaintext.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.rejections import (  # noqa: F401  (re-exported: the adapter and tests name them here)
    WINDOW, BadSignature, BadToken, CallbackRejected, StaleTimestamp, Undecryptable, check_fresh, check_signature,
)
from bot.untrusted import Unreadable, json_object
from store.clock import Clock

BLOCK = 16


class MalformedBody(CallbackRejected):
    status = 400


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """X-Lark-Signature: sha256 hex of timestamp + nonce + encrypt_key + the raw body bytes."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def aes_key(encrypt_key: str) -> bytes:
    return hashlib.sha256(encrypt_key.encode()).digest()


def decrypt(encrypt_key: str, encrypted: str) -> str:
    """base64(iv16 + AES-256-CBC(PKCS7)) → text; any defect raises Undecryptable."""
    try:
        raw = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise Undecryptable("not base64") from None
    if len(raw) < 2 * BLOCK or len(raw) % BLOCK:
        raise Undecryptable("bad ciphertext length")
    dec = Cipher(algorithms.AES(aes_key(encrypt_key)), modes.CBC(raw[:BLOCK])).decryptor()
    plain = dec.update(raw[BLOCK:]) + dec.finalize()
    pad = plain[-1]
    if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
        raise Undecryptable("bad padding")
    try:
        return plain[:-pad].decode("utf-8")
    except UnicodeDecodeError:
        raise Undecryptable("not UTF-8") from None


def encrypt(encrypt_key: str, plaintext: str, iv: bytes) -> str:
    """The platform's side, for the fake API and tests: base64(iv + AES-256-CBC(PKCS7(plaintext)))."""
    data = plaintext.encode("utf-8")
    pad = BLOCK - len(data) % BLOCK
    enc = Cipher(algorithms.AES(aes_key(encrypt_key)), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + enc.update(data + bytes([pad]) * pad) + enc.finalize()).decode()


def _json_object(raw: bytes | str) -> dict[str, Any]:
    try:
        return json_object(raw)  # bot.untrusted's rules: bounded depth, UTF-8, storable strings
    except Unreadable as e:
        raise MalformedBody(str(e)) from None


def token_of(payload: dict[str, Any]) -> str:
    """Schema 2.0 events carry the verification token in `header.token`; v1 events and url_verification
    at the top level. (`event.token` of a card click is the card's update token, not this one.)"""
    header = payload.get("header")
    token = header.get("token") if isinstance(header, dict) and payload.get("schema") else payload.get("token")
    return token if isinstance(token, str) else ""


class FeishuCrypto:
    def __init__(self, verification_token: str, encrypt_key: str, clock: Clock, window: int = WINDOW) -> None:
        self._token = verification_token
        self._key = encrypt_key
        self.clock = clock
        self.window = window

    def open(self, body: bytes, timestamp: str, nonce: str, sig: str) -> dict[str, Any]:
        """Verify and decrypt one callback body into its plaintext payload, or raise CallbackRejected.

        With an encrypt key the body must be encrypted. Signature headers are required on everything
        except `url_verification`: Feishu's own SDK does not check a signature on that one, and it still
        has to decrypt with our key and carry our verification token.
        """
        signed = bool(timestamp or nonce or sig)
        if self._key and signed:
            self._check_signature(body, timestamp, nonce, sig)
        outer = _json_object(body)
        if self._key:
            encrypted = outer.get("encrypt")
            if not isinstance(encrypted, str) or not encrypted:
                raise Undecryptable("plaintext body while an encrypt key is configured")
            payload = _json_object(decrypt(self._key, encrypted))
        else:
            payload = outer
        if self._key and not signed and payload.get("type") != "url_verification":
            raise BadSignature("unsigned callback")
        if not hmac.compare_digest(token_of(payload).encode(), self._token.encode()):
            raise BadToken("verification token mismatch")
        return payload

    def _check_signature(self, body: bytes, timestamp: str, nonce: str, sig: str) -> None:
        check_signature(signature(timestamp, nonce, self._key, body), (sig or "").strip())
        check_fresh(timestamp, self.clock, self.window)
