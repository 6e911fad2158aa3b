"""A configured service running the demo: its demo WeCom/Feishu apps take this installation's own credentials.

The fixed ones in bot/sim/demo_credentials.py are public; create_app builds the demo channels with them
and, when the service was started with a configuration, this replaces them at start-up (once the
installation's secret key is known) with ones derived from that key, the same in every process.
"""
from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from pydantic import SecretStr

from bot import keys
from bot.sim.demo_credentials import derived


async def installation_credentials(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx placed right after the database one (which sets keys.SECRET)."""
    creds = derived(app[keys.SECRET])
    settings = app[keys.SETTINGS]
    update = {}
    from bot.sim.wecom_api import FAKE_WECOM
    if FAKE_WECOM in app:
        from bot.wecom import adapter as wecom
        from bot.wecom.crypto import WecomCrypto
        from bot.wecom_kf import adapter as kf
        update["wecom"] = settings.wecom.model_copy(update={
            "secret": SecretStr(creds.wecom_secret), "token": SecretStr(creds.wecom_token),
            "encoding_aes_key": SecretStr(creds.wecom_aes_key)})
        old = app[wecom.CRYPTO]
        app[wecom.CRYPTO] = WecomCrypto(creds.wecom_token, creds.wecom_aes_key, old.corp_id, old.clock, old.window)
        app[wecom.CLIENT]._secret = creds.wecom_secret
        if kf.CHANNEL in app:
            app[kf.CHANNEL].client._secret = creds.wecom_secret
        app[FAKE_WECOM].secret = creds.wecom_secret
    from bot.sim.feishu_play import PUSHER
    if PUSHER in app:
        from bot.feishu import adapter as feishu
        from bot.feishu.crypto import FeishuCrypto
        from bot.sim.feishu_api import FAKE_FEISHU
        update["feishu"] = settings.feishu.model_copy(update={
            "app_secret": SecretStr(creds.feishu_app_secret), "verification_token": SecretStr(creds.feishu_token),
            "encrypt_key": SecretStr(creds.feishu_encrypt_key)})
        old = app[feishu.CRYPTO]
        app[feishu.CRYPTO] = FeishuCrypto(creds.feishu_token, creds.feishu_encrypt_key, old.clock, old.window)
        app[feishu.CLIENT]._secret = creds.feishu_app_secret
        app[FAKE_FEISHU].app_secret = creds.feishu_app_secret
        app[PUSHER].verification_token, app[PUSHER].encrypt_key = creds.feishu_token, creds.feishu_encrypt_key
    app[keys.SETTINGS] = settings.model_copy(update=update)
    yield
