"""The async WeCom client against the fake WeCom API: tokens, refetch once, back-off, typed errors, media."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from bot.sim.wecom_api import setup_fake_wecom
from bot.tokens import Tokens
from bot.wecom.client import WecomClient
from bot.wecom.errors import InvalidArgument, RateLimited, RecipientUnreachable, TokenError, WecomUnavailable

CORP, SECRET, AGENT = "wwtestcorp", "s3cret-value", 1000002


class Sleeps(list):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
async def wecom_api(aiohttp_server, clock):
    app = web.Application()
    fake = setup_fake_wecom(app, corp_id=CORP, secret=SECRET, clock=clock)
    hang = asyncio.Event()

    async def slow(request):
        await hang.wait()
        return web.Response()
    app.router.add_get("/slow/cgi-bin/gettoken", slow)
    server = await aiohttp_server(app)
    yield fake, str(server.make_url("/sim/wecom")), str(server.make_url("/slow"))
    hang.set()


@pytest.fixture
async def api(wecom_api, clock):
    fake, base, _ = wecom_api
    sleeps = Sleeps()
    client = WecomClient(api_base=base, corp_id=CORP, secret=SECRET, agent_id=AGENT, tokens=Tokens(clock),
                         sleep=sleeps)
    yield client, fake, sleeps
    await client.close()


async def test_send_text_fetches_the_token_once(api):
    client, fake, _ = api
    for n in range(3):
        result = await client.send_message({"touser": "u1", "msgtype": "text", "text": {"content": f"m{n}"}})
        assert result["msgid"]
    assert fake.token_calls == 1
    assert [s["payload"]["text"]["content"] for s in fake.sent_to("u1")] == ["m0", "m1", "m2"]
    assert fake.sent_to("u1")[0]["payload"]["agentid"] == AGENT


async def test_token_expiry_mid_flight_refetches_exactly_once(api):
    client, fake, _ = api
    await client.send_message({"touser": "u1", "msgtype": "text", "text": {"content": "a"}})
    fake.expire_tokens()
    await client.send_message({"touser": "u1", "msgtype": "text", "text": {"content": "b"}})
    assert fake.token_calls == 2
    assert [code for _, code in fake.calls] == [0, 42001, 0]
    assert len(fake.sent_to("u1")) == 2


async def test_a_token_refused_twice_is_an_error_not_a_loop(api):
    client, fake, _ = api
    fake.fail_next(40014, 5)
    with pytest.raises(TokenError):
        await client.send_message({"touser": "u1", "msgtype": "text", "text": {"content": "a"}})
    assert fake.token_calls == 2 and len(fake.calls) == 2


async def test_rate_limit_backs_off_then_succeeds(api):
    client, fake, sleeps = api
    fake.fail_next(45009, 2)
    await client.send_message({"touser": "u1", "msgtype": "text", "text": {"content": "a"}})
    assert sleeps == [1.0, 2.0]
    assert len(fake.sent_to("u1")) == 1


async def test_rate_limit_retries_are_bounded(api):
    client, fake, sleeps = api
    fake.fail_next(-1, 10)
    with pytest.raises(RateLimited) as err:
        await client.send_message({"touser": "u1", "msgtype": "text", "text": {"content": "a"}})
    assert err.value.retryable and len(sleeps) == 2 and fake.sent == []


async def test_bad_secret_is_a_configuration_error(wecom_api, clock):
    _, base, _ = wecom_api
    client = WecomClient(api_base=base, corp_id=CORP, secret="wrong", agent_id=AGENT, tokens=Tokens(clock))
    try:
        with pytest.raises(TokenError) as err:
            await client.send_message({"touser": "u1", "msgtype": "text", "text": {"content": "a"}})
        assert err.value.code == 40001 and not err.value.retryable
        assert "wrong" not in str(err.value)
    finally:
        await client.close()


async def test_timeout_is_retryable_and_leaks_no_secret(wecom_api, clock):
    _, _, slow = wecom_api
    client = WecomClient(api_base=slow, corp_id=CORP, secret=SECRET, agent_id=AGENT, tokens=Tokens(clock),
                         timeout=0.05)
    try:
        with pytest.raises(WecomUnavailable) as err:
            await client.send_message({"touser": "u1", "msgtype": "text", "text": {"content": "a"}})
        assert err.value.retryable and SECRET not in str(err.value)
    finally:
        await client.close()


async def test_unknown_user_is_unreachable(api):
    client, fake, _ = api
    fake.known_users = {"u1"}
    with pytest.raises(RecipientUnreachable):
        await client.send_message({"touser": "ghost", "msgtype": "text", "text": {"content": "a"}})


async def test_button_card_returns_a_single_use_response_code(api):
    client, fake, _ = api
    card = {"card_type": "button_interaction", "task_id": "T-1", "main_title": {"title": "t"},
            "button_list": [{"text": "ok", "style": 1, "key": "k"}]}
    result = await client.send_message({"touser": "u1", "msgtype": "template_card", "template_card": card})
    code = result["response_code"]
    await client.update_template_card({"response_code": code, "atall": 1, "button": {"replace_name": "done"}})
    with pytest.raises(InvalidArgument):
        await client.update_template_card({"response_code": code, "atall": 1, "button": {"replace_name": "x"}})
    with pytest.raises(InvalidArgument):  # task_id reuse: 42014
        await client.send_message({"touser": "u1", "msgtype": "template_card", "template_card": card})
    assert [s["kind"] for s in fake.sent_to("u1")] == ["message", "card_update"]


async def test_appchat_takes_markdown_but_no_template_card(api):
    client, fake, _ = api
    chatid = await client.appchat_create("plumbing", "u1", ["u1", "u2"], chatid="trade_plumbing")
    assert chatid == "trade_plumbing"
    await client.appchat_send({"chatid": chatid, "msgtype": "markdown", "markdown": {"content": "**x**"}})
    with pytest.raises(InvalidArgument):
        await client.appchat_send({"chatid": chatid, "msgtype": "template_card", "template_card": {}})
    with pytest.raises(RecipientUnreachable):
        await client.appchat_send({"chatid": "nope", "msgtype": "text", "text": {"content": "x"}})
    assert [s["chat"] for s in fake.sent] == [chatid]


async def test_media_get_bytes_and_error_json_with_http_200(api):
    client, fake, _ = api
    media_id = fake.add_media(b"\xff\xd8\xff" + b"j" * 20)
    data, ctype = await client.media_get(media_id)
    assert data.startswith(b"\xff\xd8\xff") and ctype == "image/jpeg"
    with pytest.raises(InvalidArgument) as err:
        await client.media_get("expired-id")
    assert err.value.code == 40007


async def test_media_get_refetches_the_token_too(api):
    client, fake, _ = api
    media_id = fake.add_media(b"\x89PNG\r\n\x1a\n" + b"p" * 20, "image/png")
    await client.media_get(media_id)
    fake.expire_tokens()
    data, ctype = await client.media_get(media_id)
    assert ctype == "image/png" and fake.token_calls == 2


async def test_media_upload_multipart_round_trip(api):
    client, fake, _ = api
    fake.fail_next(45033)  # the multipart body must be rebuilt for the retry
    media_id = await client.media_upload("image", "p.jpg", b"\xff\xd8\xffdata", "image/jpeg")
    assert await client.media_get(media_id) == (b"\xff\xd8\xffdata", "image/jpeg")


async def test_fake_api_steering_endpoints(api, aiohttp_client):
    client, fake, _ = api
    await client.send_message({"touser": "u1", "msgtype": "text", "text": {"content": "a"}})
    await client.send_message({"touser": "u2", "msgtype": "text", "text": {"content": "b"}})
    http = client._http()
    async with http.get(client.api_base + "/_sent", params={"user": "u1"}) as resp:
        sent = (await resp.json())["sent"]
    assert [s["payload"]["text"]["content"] for s in sent] == ["a"]
    async with http.post(client.api_base + "/_faults", json={"expire_tokens": True, "errcode": 45009}) as resp:
        assert (await resp.json())["errcode"] == 0
    async with http.post(client.api_base + "/_media", data=b"\xff\xd8\xffbytes",
                         headers={"Content-Type": "image/jpeg"}) as resp:
        media_id = (await resp.json())["media_id"]
    assert await client.media_get(media_id) == (b"\xff\xd8\xffbytes", "image/jpeg")
    assert [code for _, code in fake.calls][-3:] == [45009, 42001, 0]
