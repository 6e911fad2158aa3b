"""The demo WeCom/Feishu apps' credentials: fixed for the zero-config demo, derived per installation otherwise."""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

# Public by nature (they are in this source): accepted only by the zero-config demo, refused by check-config.
DEMO_CORP_ID = "wwsimulator0000001"
DEMO_WECOM_SECRET = "simulator-secret"
DEMO_WECOM_TOKEN = "simulatortoken"
DEMO_WECOM_AES_KEY = "c2ltdWxhdG9yLWRlbW8tYWVzLWtleS0zMi1ieXRlcw0"
DEMO_FEISHU_APP_ID = "cli_simulator"
DEMO_FEISHU_APP_SECRET = "simulator-secret"
DEMO_FEISHU_TOKEN = "simulator-verification-token"
DEMO_FEISHU_ENCRYPT_KEY = "simulator-encrypt-key"

FIXED = frozenset({DEMO_WECOM_SECRET, DEMO_WECOM_TOKEN, DEMO_WECOM_AES_KEY, DEMO_FEISHU_APP_SECRET,
                   DEMO_FEISHU_TOKEN, DEMO_FEISHU_ENCRYPT_KEY})


@dataclass(frozen=True)
class DemoCredentials:
    wecom_secret: str = DEMO_WECOM_SECRET
    wecom_token: str = DEMO_WECOM_TOKEN
    wecom_aes_key: str = DEMO_WECOM_AES_KEY
    feishu_app_secret: str = DEMO_FEISHU_APP_SECRET
    feishu_token: str = DEMO_FEISHU_TOKEN
    feishu_encrypt_key: str = DEMO_FEISHU_ENCRYPT_KEY


def derived(secret: bytes) -> DemoCredentials:
    """Credentials only this installation knows (from its secret key), the same in all its processes:
    a configured service running the demo never accepts the public ones above."""
    def mac(label: str) -> bytes:
        return hmac.new(secret, f"repairbot-demo:{label}".encode(), hashlib.sha256).digest()
    return DemoCredentials(
        wecom_secret=mac("wecom-secret").hex(), wecom_token=mac("wecom-token").hex()[:32],
        wecom_aes_key=base64.b64encode(mac("wecom-aes")).decode().rstrip("="),  # 43 chars, 32 bytes
        feishu_app_secret=mac("feishu-secret").hex(), feishu_token=mac("feishu-token").hex(),
        feishu_encrypt_key=mac("feishu-encrypt").hex(),
    )
