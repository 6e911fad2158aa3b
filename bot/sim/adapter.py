"""The simulator's channel: the chat page and its JSON API, the sent log, and — with no platform configured —
the demo WeCom and Feishu apps it plays on the wire against the built-in fake platform APIs."""
from __future__ import annotations

from aiohttp import web

from bot.channel import Channel, ChannelParts
from bot.settings import Settings
from bot.sim import feishu_play, routes, wecom_play
from bot.sim.log import CHANNEL, SentLog, SimMessenger
from store.clock import Clock


class SimChannel(Channel):
    name = CHANNEL

    def __init__(self, settings: Settings, parts: ChannelParts) -> None:
        self.settings = settings
        self.clock = parts.clock
        self.log = SentLog(parts.clock)
        self.messenger = SimMessenger(self.log)
        self.plays_wecom = wecom_play.plays(settings)
        self.plays_feishu = feishu_play.plays(settings)
        self.fake_wecom = None
        self.pusher = None

    def routes(self) -> list[web.RouteDef]:
        out = list(routes.routes)
        if self.plays_wecom:
            out += wecom_play.routes
        if self.plays_feishu:
            out += feishu_play.routes
        return out

    def mount(self, app: web.Application) -> None:
        super().mount(app)
        self.fake_wecom, self.pusher = mount_fake_apis(app, self.settings, self.clock, wecom=self.plays_wecom,
                                                       feishu=self.plays_feishu)


def mount_fake_apis(app: web.Application, settings: Settings, clock: Clock, *, wecom: bool, feishu: bool):
    """The one place the demo mounts the fake platform APIs its channels are pointed at (`/sim/wecom`,
    `/sim/feishu`); returns the fake WeCom and the Feishu pusher (None for a platform not played)."""
    fake_wecom = pusher = None
    if wecom:
        from bot.sim.wecom_api import setup_fake_wecom
        fake_wecom = setup_fake_wecom(app, corp_id=settings.wecom.corp_id,
                                      secret=settings.wecom.secret.get_secret_value(), clock=clock)
    if feishu:
        from bot.sim.feishu_api import FeishuPusher, setup_fake_feishu
        f = settings.feishu
        setup_fake_feishu(app, app_id=f.app_id, app_secret=f.app_secret.get_secret_value(), clock=clock)
        pusher = FeishuPusher(f.verification_token.get_secret_value(), f.encrypt_key.get_secret_value(),
                              app_id=f.app_id, clock=clock)
    return fake_wecom, pusher
