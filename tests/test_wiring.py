"""One visible wiring: the service's parts are handed over explicitly, and every channel is registered the same way."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from bot.channel import CHANNELS, Channel

ROOT = Path(__file__).resolve().parents[1]
# The app factory builds the services; a channel mounts its routes; the simulator mounts the fake APIs; the
# console mounts its sub-application.
TAKES_THE_APP = {"bot/app.py", "bot/services.py", "bot/channel.py", "bot/metrics.py", "bot/sim/adapter.py",
                 "bot/sim/fake_api.py", "bot/sim/wecom_api.py", "bot/sim/feishu_api.py", "bot/sim/wechat_mp_api.py",
                 "bot/sim/wecom_kf_api.py", "bot/cli.py", "bot/console/app.py"}


def _python(*packages: str):
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def test_only_the_app_factory_knows_where_the_services_are_kept():
    offenders = [name for name, tree in _python("bot", "relay")
                 if name not in ("bot/app.py", "bot/services.py")
                 and any(isinstance(n, ast.Name) and n.id == "SERVICES" for n in ast.walk(tree))]
    assert offenders == []


def test_no_component_takes_the_whole_app():
    offenders = []
    for name, tree in _python("bot", "relay"):
        if name in TAKES_THE_APP:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                params = [a.arg for a in node.args.args + node.args.kwonlyargs]
                if "app" in params:
                    offenders.append(f"{name}: {node.name}")
    assert offenders == []


@pytest.mark.parametrize("where", [w for _, w in CHANNELS])
def test_every_channel_is_a_channel_named_by_its_packages_constant(where):
    module_name, class_name = where.split(":")
    module = importlib.import_module(module_name)
    cls = getattr(module, class_name)
    assert issubclass(cls, Channel)
    package = importlib.import_module(module_name.rsplit(".", 1)[0])
    constants = {getattr(importlib.import_module(f"{package.__name__}.{m}"), "CHANNEL", None)
                 for m in ("adapter", "event", "log") if (ROOT / package.__name__.replace(".", "/") / f"{m}.py").exists()}
    assert constants - {None} == {cls.name} and isinstance(cls.name, str)
    assert module_name.endswith(".adapter")  # one file name for every platform's Channel
