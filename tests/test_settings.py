"""Settings: TOML plus REPAIRBOT_<SECTION>__<KEY> overrides, and check-config's plain-words errors."""
from __future__ import annotations

import pytest

from bot.cli import main
from bot.settings import load_settings


def test_defaults_are_the_embedded_service():
    s = load_settings(None)
    assert s.database.url == "sqlite+aiosqlite:///repairbot.db"
    assert s.redis.url == ""
    assert s.simulator_enabled
    assert s.sla.emergency_respond == 900  # BR-9


def test_env_overrides_file(tmp_path, monkeypatch):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[database]\nurl = "sqlite+aiosqlite:///a.db"\npool_size = 3\n', encoding="utf-8")
    monkeypatch.setenv("REPAIRBOT_DATABASE__URL", "postgresql+asyncpg://u@h/db")
    s = load_settings(cfg)
    assert s.database.url == "postgresql+asyncpg://u@h/db"
    assert s.database.pool_size == 3


def test_configured_platform_turns_the_simulator_off(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[wecom]\ncorp_id="ww1"\nagent_id=1\nsecret="s"\ntoken="t"\nencoding_aes_key="k"\n')
    s = load_settings(cfg)
    assert s.platforms == ["wecom"] and not s.simulator_enabled
    assert load_settings(cfg, demo=True).simulator_enabled


@pytest.mark.parametrize("toml, expected", [
    ('[databse]\nurl="x"\n', "databse: unknown key"),
    ('[[trades]]\nkey="plumbin"\nname="水"\n', "trades.0.key"),
    ('[wecom]\ncorp_id="ww1"\n', "wecom.agent_id: required key is missing"),
    ('[database]\nurl="mysql://x"\n', "database.url"),
    ('[[staff]]\nname="张师傅"\nrole="technician"\ntrades=["gas"]\n', "staff[0].trades"),
    ('[service\n', "not valid TOML"),
])
def test_check_config_names_the_offending_key(tmp_path, capsys, toml, expected):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml, encoding="utf-8")
    assert main(["check-config", "--config", str(cfg)]) == 2
    assert expected in capsys.readouterr().err


def test_check_config_accepts_a_good_file(tmp_path, capsys):
    cfg = tmp_path / "ok.toml"
    cfg.write_text('[[trades]]\nkey="plumbing"\nname="水"\n[[staff]]\nname="张师傅"\nrole="technician"\n'
                   'trades=["plumbing"]\n', encoding="utf-8")
    assert main(["check-config", "--config", str(cfg)]) == 0
    assert "configuration OK" in capsys.readouterr().out


def test_secrets_never_show_in_repr():
    s = load_settings(None, service={"api_tokens": ["very-secret-token"]})
    assert "very-secret-token" not in repr(s)


def test_what_counts_as_a_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("REPAIRBOT_TEST_BACKENDS", "embedded")  # the tests' own variables are not configuration
    assert not load_settings(None).configured
    assert not load_settings(None, service={"api_tokens": ["t"]}).configured  # keyword overrides (tests)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[intake]\ndraft_ttl = 60\n', encoding="utf-8")
    s = load_settings(cfg)
    assert s.configured and not s.simulator_enabled  # a file without a platform: the API only
    monkeypatch.setenv("REPAIRBOT_REDIS__URL", "redis://127.0.0.1:6379/0")
    assert load_settings(None).configured and not load_settings(None).simulator_enabled


def test_demo_is_a_service_key_and_the_top_level_one_still_works(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[service]\ndemo = true\n', encoding="utf-8")
    assert load_settings(cfg).simulator_enabled
    cfg.write_text('demo = true\n', encoding="utf-8")  # deprecated alias
    assert load_settings(cfg).simulator_enabled
