"""`repairbot passwd WHO [--password-stdin]` (contract.md): a configured deployment has no console login until a
password is set for a person of `[[staff]]`; WHO is their phone or a platform user id."""
from __future__ import annotations

import asyncio
import io
import sys

import pytest

from bot.cli import main

CONFIG = """
[service]
api_tokens = ["t-0123456789abcdef"]
secret_key = "s-0123456789abcdef0123456789abcdef"

[database]
url = "sqlite+aiosqlite:///{db}"

[media]
dir = "{media}"

[[trades]]
key = "plumbing"
name = "水"

[[staff]]
name = "王主管"
role = "supervisor"
phone = "13800000009"
wecom_userid = "wangzhuguan"

[[staff]]
name = "同名"
role = "technician"
trades = ["plumbing"]
phone = "13800000001"

[[staff]]
name = "同名二"
role = "technician"
trades = ["plumbing"]
phone = "13800000001"
"""


@pytest.fixture
def config(tmp_path, monkeypatch):
    for var in [v for v in __import__("os").environ if v.startswith("REPAIRBOT_") and not v.startswith("REPAIRBOT_TEST_")]:
        monkeypatch.delenv(var)
    path = tmp_path / "repairbot.toml"
    path.write_text(CONFIG.format(db=tmp_path / "rb.db", media=tmp_path / "media"), encoding="utf-8")
    return path


def passwd(monkeypatch, config, who: str, password: str) -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
    return main(["passwd", who, "--password-stdin", "--config", str(config)])


def login_status(config, username: str, password: str) -> int:
    """Sign in to a service started on `config` (as `serve` would be), over HTTP; the response's status."""
    from aiohttp.test_utils import TestClient, TestServer

    from bot.app import create_app
    from bot.settings import load_settings
    from tests.console_steps import CSRF

    async def run() -> int:
        async with TestClient(TestServer(create_app(load_settings(str(config)), run_background=False))) as c:
            page = await (await c.get("/admin/login")).text()
            r = await c.post("/admin/login", data={"username": username, "password": password,
                                                   "csrf": CSRF.search(page).group(1)}, allow_redirects=False)
            return r.status
    return asyncio.run(run())


def test_a_configured_deployment_has_no_login_until_passwd_sets_one(config, monkeypatch, capsys):
    assert login_status(config, "13800000009", "correct horse battery") == 401
    assert passwd(monkeypatch, config, "13800000009", "correct horse battery") == 0
    assert "王主管 (supervisor)" in capsys.readouterr().out
    assert login_status(config, "13800000009", "correct horse battery") == 303      # signed in: to the list
    assert login_status(config, "wangzhuguan", "correct horse battery") == 303      # the WeCom id names them too
    assert login_status(config, "13800000009", "wrong horse battery") == 401


def test_the_demo_cast_has_no_password_in_a_configured_deployment(config):
    for username in ("13800000009", "13800000001", "wangzhuguan", "zhangsan", "admin"):
        for password in ("", "admin", "password", "repairbot", "13800000009"):
            assert login_status(config, username, password) in (401, 429)


def test_passwd_refuses_who_names_nobody_or_several_and_a_weak_password(config, monkeypatch, capsys):
    assert passwd(monkeypatch, config, "13999999999", "correct horse battery") == 1
    assert "nobody" in capsys.readouterr().err
    assert passwd(monkeypatch, config, "13800000001", "correct horse battery") == 1   # two people share the phone
    assert "several" in capsys.readouterr().err
    assert passwd(monkeypatch, config, "13800000009", "short") == 2
    assert login_status(config, "13800000009", "short") == 401


def test_without_a_terminal_the_password_must_come_on_stdin(config, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["passwd", "13800000009", "--config", str(config)]) == 2
    assert "--password-stdin" in capsys.readouterr().err
