"""Deployment modes: production is never a demo (issue 8, item 1), the API token kept hashed, /metrics options.

The zero-config demo keeps its simulator (tests/test_sim_*.py); here a service started with a
configuration (the shipped example, the environment alone, a platform beside `demo = true`) shows no
simulator or asks for the API token, never accepts the demo's public credentials, and check-config /
serve refuse what would make it unsafe, naming the key.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import xmltodict
from aiohttp.test_utils import unused_port
from sqlalchemy import select

from bot.services import services_of
from bot.app import create_app
from bot.cli import main
from bot.settings import load_settings
from bot.sim.demo_credentials import (DEMO_CORP_ID, DEMO_FEISHU_ENCRYPT_KEY, DEMO_FEISHU_TOKEN,
                                      DEMO_WECOM_AES_KEY, DEMO_WECOM_TOKEN)
from bot.sim.feishu_api import FeishuPusher
from bot.sim.wecom_api import callback_xml
from bot.wecom.crypto import WecomCrypto
from store.models import KeyValue
from tests.conftest import auth

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "deploy" / "repairbot.example.toml"
LONG = "a-real-api-token-of-at-least-32-characters"
# A WeCom app of this installation (not the demo's): its own token and a valid 43-character AES key.
WECOM = {"corp_id": "ww0123456789abcdef", "agent_id": 1000002, "secret": "s" * 40, "token": "realtoken123",
         "encoding_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "api_base": "http://127.0.0.1:9/x"}
SIM_PATHS = ["/sim/", "/sim/api/people", "/sim/api/sent", "/sim/wecom/_sent", "/sim/feishu/_sent"]


def _toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _backend_toml(backend, tmp_path, service: str = f'api_tokens = ["{LONG}"]\n') -> str:
    return (f'[service]\n{service}public_url = "http://testserver"\n[database]\nurl = "{backend.db_url}"\n'
            f'[redis]\nurl = "{backend.redis_url}"\n[media]\ndir = "{tmp_path / "media"}"\n')


async def _app(aiohttp_client, settings, clock, backend, **kw):
    # What `serve` builds: it always asks for the demo channels, create_app decides whether they mount.
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix,
                     demo_wecom=True, demo_feishu=True, **kw)
    return app, await aiohttp_client(app)


def _signed_with_demo_wecom(clock, user: str = "attacker") -> tuple[dict, bytes]:
    xml = callback_xml(DEMO_CORP_ID, user, int(clock.now().timestamp()), "text", 1000002, Content="hi", MsgId="1")
    envelope = WecomCrypto(DEMO_WECOM_TOKEN, DEMO_WECOM_AES_KEY, DEMO_CORP_ID, clock).encrypt(xml)
    f = xmltodict.parse(envelope)["xml"]
    return {"msg_signature": f["MsgSignature"], "timestamp": f["TimeStamp"], "nonce": f["Nonce"]}, envelope.encode()


async def _no_simulator(client) -> None:
    for path in SIM_PATHS:
        assert (await client.get(path, headers=auth(LONG))).status == 404, path
    resp = await client.post("/sim/api/say", json={"user": "r1", "text": "hi"}, headers=auth(LONG))
    assert resp.status == 404


async def test_the_example_configuration_serves_the_api_only(aiohttp_client, clock, backend, tmp_path, caplog):
    settings = load_settings(EXAMPLE, database={"url": backend.db_url}, redis={"url": backend.redis_url},
                             media={"dir": str(tmp_path / "media")})
    assert settings.configured and not settings.simulator_enabled
    with caplog.at_level(logging.WARNING):
        app, client = await _app(aiohttp_client, settings, clock, backend)
    assert any("serving the API only" in r.getMessage() for r in caplog.records)
    await _no_simulator(client)
    query, body = _signed_with_demo_wecom(clock)
    assert (await client.post("/wecom/callback", params=query, data=body)).status in (404, 405)
    resp = await client.get("/api/v1/tickets", headers=auth("change-me"))  # the example's own (placeholder) token
    assert resp.status == 200  # load_settings accepts it; check-config and serve refuse it (below)
    assert services_of(app).settings.wecom is None and services_of(app).settings.feishu is None


async def test_an_environment_only_configuration_is_a_configuration(aiohttp_client, clock, backend, tmp_path,
                                                                    monkeypatch):
    monkeypatch.setenv("REPAIRBOT_DATABASE__URL", backend.db_url)
    monkeypatch.setenv("REPAIRBOT_REDIS__URL", backend.redis_url)
    monkeypatch.setenv("REPAIRBOT_MEDIA__DIR", str(tmp_path / "media"))
    monkeypatch.setenv("REPAIRBOT_SERVICE__API_TOKENS", f'["{LONG}"]')
    settings = load_settings(None)
    assert settings.configured and not settings.simulator_enabled
    _, client = await _app(aiohttp_client, settings, clock, backend)
    await _no_simulator(client)
    assert (await client.get("/api/v1/tickets", headers=auth(LONG))).status == 200


async def test_demo_beside_a_real_platform_needs_the_token_and_refuses_the_demo_credentials(
        aiohttp_client, clock, backend, tmp_path):
    wecom = "".join(f'{k} = {v!r}\n'.replace("'", '"') for k, v in WECOM.items())
    cfg = _toml(tmp_path / "c.toml", _backend_toml(backend, tmp_path, f'api_tokens = ["{LONG}"]\ndemo = true\n')
                + "[wecom]\n" + wecom)
    settings = load_settings(cfg)
    assert settings.simulator_enabled and settings.platforms == ["wecom"]
    app, client = await _app(aiohttp_client, settings, clock, backend)
    # The simulator's API answers only to the API token, like /api/v1.
    assert (await client.post("/sim/api/say", json={"user": "r1", "text": "你好"})).status == 401
    assert (await client.get("/sim/api/sent")).status == 401
    assert (await client.get("/sim/api/people", headers=auth("wrong-token"))).status == 401
    resp = await client.post("/sim/api/say", json={"user": "r1", "text": "你好"}, headers=auth(LONG))
    assert resp.status == 200
    page = await (await client.get("/sim/")).text()
    assert "simToken" in page  # the page asks for the token for its own calls
    # No fake platform API and no demo channel beside a real platform.
    assert (await client.get("/sim/wecom/_sent")).status == 404
    assert (await client.post("/feishu/events", data=b"{}")).status in (404, 405)
    # A WeCom callback signed and encrypted with the demo's public credentials is refused, changing nothing.
    query, body = _signed_with_demo_wecom(clock)
    assert (await client.post("/wecom/callback", params=query, data=body)).status == 403
    # ... while one signed with this installation's own credentials is taken.
    xml = callback_xml(WECOM["corp_id"], "r2", int(clock.now().timestamp()), "text", 1000002, Content="hi", MsgId="2")
    envelope = WecomCrypto(WECOM["token"], WECOM["encoding_aes_key"], WECOM["corp_id"], clock).encrypt(xml)
    f = xmltodict.parse(envelope)["xml"]
    resp = await client.post("/wecom/callback", data=envelope.encode(),
                             params={"msg_signature": f["MsgSignature"], "timestamp": f["TimeStamp"],
                                     "nonce": f["Nonce"]})
    assert resp.status == 200


async def test_demo_with_a_configuration_plays_wecom_and_feishu_on_its_own_credentials(
        aiohttp_client, clock, backend, tmp_path):
    port = unused_port()
    cfg = _toml(tmp_path / "c.toml", _backend_toml(backend, tmp_path, f'api_tokens = ["{LONG}"]\ndemo = true\n')
                .replace("http://testserver", f"http://127.0.0.1:{port}"))
    settings = load_settings(cfg)
    app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix,
                     demo_wecom=True, demo_feishu=True)
    client = await aiohttp_client(app, server_kwargs={"port": port})
    # No real platform: the simulator is open (as it is in the zero-config demo) and speaks WeCom and Feishu...
    resp = await client.post("/sim/api/wecom/say", json={"user": "r1", "text": "3栋2单元1502卫生间水管爆了"})
    assert (await resp.json())["callback_status"] == 200
    resp = await client.post("/sim/api/feishu/say", json={"user": "r1", "text": "你好"})
    assert (await resp.json())["callback_status"] == 200
    # ... with credentials of its own: the public demo ones are refused.
    served = services_of(app).settings
    assert served.wecom.token.get_secret_value() != DEMO_WECOM_TOKEN
    assert served.feishu.encrypt_key.get_secret_value() != DEMO_FEISHU_ENCRYPT_KEY
    query, body = _signed_with_demo_wecom(clock)
    assert (await client.post("/wecom/callback", params=query, data=body)).status == 403
    push = FeishuPusher(DEMO_FEISHU_TOKEN, DEMO_FEISHU_ENCRYPT_KEY, app_id="cli_simulator", clock=clock)
    headers, fbody = push.request(push.message(open_id="ou_attacker", content={"text": "hi"}))
    assert (await client.post("/feishu/events", data=fbody, headers=headers)).status in (400, 403)


async def test_the_zero_config_demo_needs_no_token(client):
    resp = await client.post("/sim/api/say", json={"user": "r1", "text": "你好"})
    assert resp.status == 200
    assert "simToken" not in await (await client.get("/sim/")).text()


# --- check-config and serve -------------------------------------------------------------------------------

GOOD_WECOM = "[wecom]\n" + "".join(f'{k} = {v!r}\n'.replace("'", '"') for k, v in WECOM.items())
GOOD_FEISHU = ('[feishu]\napp_id = "cli_a1b2c3"\napp_secret = "feishu-app-secret-value"\n'
               'verification_token = "feishu-verification-token"\nencrypt_key = "feishu-encrypt-key"\n')
GOOD_MP = '[wechat_mp]\napp_id = "wx0123456789"\nsecret = "mp-app-secret-value"\ntoken = "mptoken"\n'
TOKEN_LINE = f'[service]\napi_tokens = ["{LONG}"]\n'


@pytest.mark.parametrize("toml, key", [
    ('[service]\napi_tokens = ["change-me"]\n', "service.api_tokens[0]"),
    ('[service]\napi_tokens = ["short-token"]\n', "service.api_tokens[0]"),
    (f'[service]\napi_tokens = ["{LONG}", "tiny"]\n', "service.api_tokens[1]"),
    ('[service]\nmetrics_token = "tiny"\n', "service.metrics_token"),
    (TOKEN_LINE + GOOD_WECOM.replace('"ww0123456789abcdef"', '"ww..."'), "wecom.corp_id"),
    (TOKEN_LINE + GOOD_FEISHU.replace('encrypt_key = "feishu-encrypt-key"\n', ""), "feishu.encrypt_key"),
    (TOKEN_LINE + GOOD_FEISHU.replace('"feishu-verification-token"', '""'), "feishu.verification_token"),
    (TOKEN_LINE + GOOD_WECOM.replace('"realtoken123"', '""'), "wecom.token"),
    (TOKEN_LINE + GOOD_MP.replace('"mptoken"', '""'), "wechat_mp.token"),
    (TOKEN_LINE + GOOD_WECOM.replace(WECOM["encoding_aes_key"], "tooshort"), "wecom.encoding_aes_key"),
    (TOKEN_LINE + GOOD_WECOM.replace(WECOM["encoding_aes_key"], "!" * 43), "wecom.encoding_aes_key"),
    (TOKEN_LINE + GOOD_MP + 'encoding_aes_key = "abc"\n', "wechat_mp.encoding_aes_key"),
    (TOKEN_LINE + GOOD_WECOM.replace(WECOM["encoding_aes_key"], DEMO_WECOM_AES_KEY), "wecom.encoding_aes_key"),
    (TOKEN_LINE + GOOD_WECOM.replace('"realtoken123"', f'"{DEMO_WECOM_TOKEN}"'), "wecom.token"),
    (TOKEN_LINE + GOOD_FEISHU.replace('"feishu-encrypt-key"', f'"{DEMO_FEISHU_ENCRYPT_KEY}"'), "feishu.encrypt_key"),
])
def test_check_config_refuses_what_is_unsafe_naming_the_key(tmp_path, capsys, toml, key):
    cfg = _toml(tmp_path / "c.toml", toml)
    assert main(["check-config", "--config", str(cfg)]) == 2
    assert f"{key}:" in capsys.readouterr().err


def test_check_config_accepts_a_complete_production_configuration(tmp_path, capsys):
    cfg = _toml(tmp_path / "c.toml", TOKEN_LINE + GOOD_WECOM + GOOD_FEISHU + GOOD_MP
                + 'encoding_aes_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"\n')
    assert main(["check-config", "--config", str(cfg)]) == 0
    assert "platforms wecom, feishu, wechat_mp" in capsys.readouterr().out


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("REPAIRBOT_")}, "PYTHONPATH": str(ROOT),
           **(env or {})}
    return subprocess.run([sys.executable, "-m", "bot", *args], env=env, capture_output=True, text=True, timeout=60)


def test_the_shipped_example_is_refused_until_its_placeholders_are_replaced():
    done = _cli("check-config", "--config", str(EXAMPLE))
    assert done.returncode == 2 and "service.api_tokens[0]" in done.stderr and "placeholder" in done.stderr


def test_serve_refuses_to_start_on_a_short_token_naming_it(tmp_path):
    cfg = _toml(tmp_path / "c.toml", '[service]\napi_tokens = ["t"]\n[database]\n'
                f'url = "sqlite+aiosqlite:///{tmp_path / "x.db"}"\n')
    done = _cli("serve", "--config", str(cfg), "--port", str(unused_port()))
    assert done.returncode == 2 and "service.api_tokens[0]" in done.stderr
    done = _cli("worker", env={"REPAIRBOT_SERVICE__API_TOKENS": '["t"]'})  # an environment-only configuration
    assert done.returncode == 2 and "service.api_tokens[0]" in done.stderr
    assert not (tmp_path / "x.db").exists()  # refused before anything was touched


# --- the generated API token --------------------------------------------------------------------------------

async def test_a_generated_api_token_is_printed_once_and_kept_hashed(aiohttp_client, make_settings, clock,
                                                                     backend, caplog):
    settings = make_settings(service={"api_tokens": []})

    async def start():
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            app = create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix)
            client = await aiohttp_client(app)
        printed = [r.getMessage() for r in caplog.records if "generated API token" in r.getMessage()]
        return app, client, printed

    app, client, [line] = await start()
    token = line.split("generated API token is ")[1].split()[0]
    assert len(token) >= 32
    assert (await client.get("/api/v1/tickets", headers=auth(token))).status == 200
    assert (await client.get("/api/v1/tickets", headers=auth(token[:-1] + "x"))).status == 401
    async with services_of(app).sessions() as s:
        kept = dict((await s.execute(select(KeyValue.key, KeyValue.value))).all())
    assert token not in kept.values() and not any(token in v for v in kept.values())
    await client.close()
    # The next start (or another process) does not print it again, and the token still opens the API.
    app, client, printed = await start()
    assert printed == []
    assert (await client.get("/api/v1/tickets", headers=auth(token))).status == 200


# --- /metrics ------------------------------------------------------------------------------------------------

async def test_metrics_behind_a_token(aiohttp_client, make_settings, clock, backend):
    settings = make_settings(service={"metrics_token": "m" * 40})
    client = await aiohttp_client(create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix))
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers=auth("x" * 40))).status == 401
    assert (await client.get("/metrics", headers=auth())).status == 401  # the API token is not the metrics token
    resp = await client.get("/metrics", headers=auth("m" * 40))
    assert resp.status == 200 and "python_info" in await resp.text()


async def test_metrics_on_their_own_port(aiohttp_client, make_settings, clock, backend):
    port = unused_port()
    settings = make_settings(service={"metrics_port": port, "metrics_token": "m" * 40})
    client = await aiohttp_client(create_app(settings, clock=clock, run_background=False, redis_prefix=backend.prefix))
    assert (await client.get("/metrics", headers=auth("m" * 40))).status == 404  # not on the main port
    assert (await client.get("/healthz")).status == 200
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
            assert r.status == 401
        async with http.get(f"http://127.0.0.1:{port}/metrics", headers=auth("m" * 40)) as r:
            assert r.status == 200 and "python_info" in await r.text()
        async with http.get(f"http://127.0.0.1:{port}/api/v1/tickets", headers=auth()) as r:
            assert r.status == 404  # that listener serves /metrics only


def test_a_token_generated_before_this_release_keeps_working_but_only_as_a_hash(tmp_path):
    import asyncio
    import hashlib
    import sqlite3

    from store.db import migrate_sync
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    migrate_sync(url, "0002")
    with sqlite3.connect(tmp_path / "old.db") as conn:
        conn.execute("INSERT INTO kv (key, value) VALUES ('api_token', 'the-old-clear-token')")
    migrate_sync(url)
    with sqlite3.connect(tmp_path / "old.db") as conn:
        kept = dict(conn.execute("SELECT key, value FROM kv").fetchall())
    assert kept == {"api_token_sha256": hashlib.sha256(b"the-old-clear-token").hexdigest()}
    from bot.secrets import api_token_hashes
    from store.db import make_database, make_sessionmaker

    async def digests():
        engine = make_database(url)
        try:
            return await api_token_hashes(make_sessionmaker(engine), load_settings(None))
        finally:
            await engine.dispose()
    assert asyncio.run(digests()) == {hashlib.sha256(b"the-old-clear-token").digest()}
