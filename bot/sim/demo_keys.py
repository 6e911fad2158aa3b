"""A configured service running the demo: its demo WeCom/Feishu apps take this installation's own credentials.

The fixed ones in bot/sim/demo_credentials.py are public; with_demo_wecom / with_demo_feishu start from
them, and when the service was started with a configuration the app factory replaces them at start-up (once
the installation's secret key is known, before any channel is built) with ones derived from that key, the
same in every process.
"""
from __future__ import annotations

from pydantic import SecretStr

from bot.settings import Settings
from bot.sim import feishu_play, wecom_play
from bot.sim.demo_credentials import derived


def with_installation_credentials(settings: Settings, secret: bytes) -> Settings:
    """`settings` with the demo apps it plays on credentials derived from the installation's `secret`."""
    creds = derived(secret)
    update = {}
    if wecom_play.plays(settings):
        update["wecom"] = settings.wecom.model_copy(update={
            "secret": SecretStr(creds.wecom_secret), "token": SecretStr(creds.wecom_token),
            "encoding_aes_key": SecretStr(creds.wecom_aes_key)})
    if feishu_play.plays(settings):
        update["feishu"] = settings.feishu.model_copy(update={
            "app_secret": SecretStr(creds.feishu_app_secret), "verification_token": SecretStr(creds.feishu_token),
            "encrypt_key": SecretStr(creds.feishu_encrypt_key)})
    return settings.model_copy(update=update)
