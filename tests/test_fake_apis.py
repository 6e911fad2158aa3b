"""Every fake platform API has the same fault switches (bot/sim/fake_api.py), and each real client reads
an outage of its platform as "try again later", then works once the outage is over."""
from __future__ import annotations

import pytest
from aiohttp import web

from bot.feishu.client import FeishuClient
from bot.sim.feishu_api import FakeFeishu
from bot.sim.wechat_mp_api import FakeMp
from bot.sim.wecom_api import FakeWecom
from bot.sim.wecom_kf_api import FakeKf
from bot.tokens import Tokens
from bot.wechat_mp.client import MpClient
from bot.wecom.client import WecomClient
from bot.wecom_kf.client import KfClient


async def _wecom(base, clock, fake):
    client = WecomClient(api_base=base, corp_id="corp", secret="s", agent_id=1, tokens=Tokens(clock))
    return client, lambda: client.send_message({"touser": "u1", "msgtype": "text", "text": {"content": "x"}})


async def _kf(base, clock, fake):
    client = KfClient(api_base=base, corp_id="corp", secret="s", agent_id=1, tokens=Tokens(clock))
    return client, lambda: client.sync_msg(cursor="", token="", open_kfid="kf1")


async def _mp(base, clock, fake):
    fake.user_wrote("o1")
    client = MpClient(api_base=base, app_id="wx1", secret="s", tokens=Tokens(clock))
    return client, lambda: client.send_custom({"touser": "o1", "msgtype": "text", "text": {"content": "x"}})


async def _feishu(base, clock, fake):
    client = FeishuClient(api_base=base, app_id="cli_1", app_secret="s", tokens=Tokens(clock))
    return client, lambda: client.send("open_id", "ou_1", "text", {"text": "x"}, uuid="")


PLATFORMS = {
    "wecom": (FakeWecom, {"corp_id": "corp", "secret": "s"}, _wecom),
    "wecom_kf": (FakeKf, {"corp_id": "corp", "secret": "s"}, _kf),
    "wechat_mp": (FakeMp, {"app_id": "wx1", "secret": "s"}, _mp),
    "feishu": (FakeFeishu, {"app_id": "cli_1", "app_secret": "s"}, _feishu),
}


@pytest.mark.parametrize("platform", list(PLATFORMS))
async def test_an_outage_of_any_platform_is_retryable_and_passes(platform, aiohttp_server, clock):
    fake_class, credentials, make = PLATFORMS[platform]
    app = web.Application()
    fake = fake_class.mount(app, clock=clock, **credentials)
    server = await aiohttp_server(app)
    client, call = await make(str(server.make_url(fake_class.PREFIX)), clock, fake)
    try:
        fake.outage(60)
        with pytest.raises(Exception) as refused:
            await call()
        assert refused.value.retryable and fake.token_calls == 1
        clock.advance(seconds=61)
        await call()
        fake.fail_next(12345)
        with pytest.raises(Exception) as failed:
            await call()
        assert failed.value.code == 12345 and not failed.value.retryable
        assert [code for _, code in fake.calls] == [0, 12345]
    finally:
        await client.close()
