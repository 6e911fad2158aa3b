"""A zero-configuration `repairbot serve` process and a headless Chromium page pointed at it."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("REPAIRBOT_CHROMIUM", "/usr/bin/chromium")
# Where a run with REPAIRBOT_SCREENSHOTS=1 refreshes the screenshots the README shows.
SCREENSHOTS = ROOT / "docs" / "screenshots"
# As root on a machine with no network: no sandbox, nothing fetched in the background.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def service(tmp_path):
    """`repairbot serve` exactly as the README's first command starts it: no configuration at all."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPAIRBOT_") or k.startswith("REPAIRBOT_TEST_")}
    env["PYTHONPATH"] = str(ROOT)
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("repairbot serve did not become ready:\n" + (tmp_path / "serve.log").read_text())
        time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def page():
    """A phone-sized page in Debian's Chromium; the test fails, never skips, when Chromium is missing."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)  # the page polls the fake platform every 2 s

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 420, "height": 860}, locale="zh-CN")
        context.set_default_timeout(15_000)
        yield context.new_page()
        context.close()
        browser.close()


def screenshot(page, name: str, tmp_path: Path) -> Path:
    """Save what the person sees; with REPAIRBOT_SCREENSHOTS=1 also refresh the README's copy."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    if os.environ.get("REPAIRBOT_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / path.name)
    return path
