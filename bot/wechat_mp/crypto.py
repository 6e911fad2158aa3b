"""Official Account callback checks: constant-time signatures, a replay window, wechatpy's AES (safe mode)."""
from __future__ import annotations

import hashlib
import secrets

from wechatpy.crypto import WeChatCrypto  # the Official Account one, not wechatpy.enterprise (issue #399)

from bot.rejections import (  # noqa: F401  (re-exported: the adapter and tests name them here)
    WINDOW, BadSignature, StaleTimestamp, Undecryptable, check_fresh, check_signature,
)
from store.clock import Clock


def sign(*parts: str) -> str:
    """WeChat's signature: sha1 of the strings sorted and concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class MpCrypto:
    def __init__(self, token: str, app_id: str, clock: Clock, encoding_aes_key: str = "",
                 window: int = WINDOW) -> None:
        self._token = token
        self.app_id = app_id
        self.clock = clock
        self.window = window
        self._aes = WeChatCrypto(token, encoding_aes_key, app_id) if encoding_aes_key else None

    @property
    def safe_mode(self) -> bool:
        return self._aes is not None

    def check_fresh(self, timestamp: str) -> None:
        check_fresh(timestamp, self.clock, self.window)

    def check_plain(self, signature: str, timestamp: str, nonce: str) -> None:
        """`wechatpy.utils.check_signature`, compared in constant time, plus the replay window."""
        check_signature(sign(self._token, timestamp or "", nonce or ""), signature)
        self.check_fresh(timestamp)

    def decrypt(self, encrypt: str, msg_signature: str, timestamp: str, nonce: str) -> str:
        """Safe mode: verify msg_signature over the Encrypt field ourselves, then let wechatpy do the AES."""
        if self._aes is None:
            raise Undecryptable("safe mode is not configured (no encoding_aes_key)")
        check_signature(sign(self._token, timestamp or "", nonce or "", encrypt), msg_signature)
        self.check_fresh(timestamp)
        try:
            # The signature is already checked; wechatpy re-checks it with `!=`, which can only agree now.
            return self._aes.decrypt_message({"Encrypt": encrypt}, msg_signature.lower(), timestamp, nonce)
        except Exception as e:  # base64, block size, padding, UTF-8, app id: all mean "not for us"
            raise Undecryptable(type(e).__name__) from None

    def encrypt(self, xml: str, *, timestamp: str | None = None, nonce: str | None = None) -> str:
        """An envelope the way WeChat builds it (simulator and tests)."""
        if self._aes is None:
            raise Undecryptable("safe mode is not configured (no encoding_aes_key)")
        ts = timestamp or str(int(self.clock.now().timestamp()))
        return self._aes.encrypt_message(xml, nonce or secrets.token_hex(5), ts)
