"""Startup benchmark: time-to-ready and resident memory of the web process, Feishu off vs. on.

Starts the service as a child process, polls GET /readyz every 20 ms until it answers 200, then
reads VmRSS from /proc/<pid>/status, and stops the child. Each variant runs --runs times; the
median is reported.

    python bench/startup.py                     # all variants, 3 runs each
    python bench/startup.py --runs 5 --json

Variants (all on the embedded SQLite backend, a fresh temporary directory per run):
  plain         `python -m bot serve` without any platform (the simulator is mounted)
  feishu        `python -m bot serve` with a [feishu] section: whatever create_app does with it today
  feishu-wired  the same, served from a function of this file (the variant lark_oapi is added to)
  feishu-lark   feishu-wired plus `import lark_oapi` in an on_startup hook (off the event loop): the
                cost the service avoids by not using the SDK
Only 127.0.0.1 is contacted; the Feishu api_base points at a closed local port (nothing is called
at startup).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VARIANTS = ("plain", "feishu", "feishu-wired", "feishu-lark")
FEISHU = """
[feishu]
app_id = "cli_bench"
app_secret = "s"
verification_token = "vt"
encrypt_key = "ek"
api_base = "http://127.0.0.1:9"
"""


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tmp: Path, feishu: bool) -> Path:
    path = tmp / "repairbot.toml"
    text = (f'[database]\nurl = "sqlite+aiosqlite:///{tmp / "rb.db"}"\n'
            f'[media]\ndir = "{tmp / "media"}"\n'
            '[service]\napi_tokens = ["bench-token-of-at-least-32-characters"]\n'
            'secret_key = "bench-secret-key-of-at-least-32-chars"\n')
    path.write_text(text + (FEISHU if feishu else ""), encoding="utf-8")
    return path


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def _post_status(url: str) -> int:
    req = urllib.request.Request(url, data=b"{}", method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=1) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def run_once(variant: str, timeout: float = 60.0) -> dict:
    with tempfile.TemporaryDirectory(prefix="rb-startup-") as d:
        tmp = Path(d)
        config = _config(tmp, feishu=variant != "plain")
        port = _free_port()
        if variant in ("plain", "feishu"):
            cmd = [sys.executable, "-m", "bot", "serve", "--config", str(config), "--port", str(port)]
        else:
            cmd = [sys.executable, __file__, "--serve-wired", str(config), "--port", str(port)]
            if variant == "feishu-lark":
                cmd.append("--with-lark")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("REPAIRBOT_CONFIG", None)
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{variant} exited early: {proc.stderr.read().decode()[-2000:]}")
                if _status(f"http://127.0.0.1:{port}/readyz") == 200:
                    break
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"{variant} not ready within {timeout} s")
                time.sleep(0.02)
            ready = time.perf_counter() - started
            rss = _rss_kb(proc.pid)
            mounted = _post_status(f"http://127.0.0.1:{port}/feishu/events") not in (404, 405)
            lark = _lark_loaded(proc.pid, port)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return {"variant": variant, "ready_s": round(ready, 3), "rss_mb": round(rss / 1024, 1),
                "feishu_routes": mounted, "lark_oapi_loaded": lark}


def _lark_loaded(pid: int, port: int) -> bool:
    """The wired runner lists its modules; for `serve`, lark_oapi's pycryptodome extension in the process
    maps gives it away (lark_oapi itself is pure Python)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_bench/modules", timeout=1) as r:
            return "lark_oapi" in r.read().decode().split()
    except OSError:
        pass
    return "/Crypto/Cipher/" in Path(f"/proc/{pid}/maps").read_text()


def serve_wired(config: str, port: int, with_lark: bool) -> None:
    """The service with Feishu configured: create_app registers bot.feishu.adapter's FeishuChannel."""
    import asyncio
    import importlib

    from aiohttp import web

    from bot.app import create_app
    from bot.settings import load_settings
    settings = load_settings(config)
    app = create_app(settings)

    async def modules(request: web.Request) -> web.Response:
        return web.Response(text="\n".join(sorted({m.split(".")[0] for m in sys.modules})))
    app.router.add_get("/_bench/modules", modules)
    if with_lark:
        async def import_lark(app: web.Application) -> None:
            await asyncio.to_thread(importlib.import_module, "lark_oapi")
        app.on_startup.append(import_lark)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--variant", action="append", choices=VARIANTS)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--serve-wired", metavar="CONFIG", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--with-lark", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_wired:
        serve_wired(args.serve_wired, args.port, args.with_lark)
        return 0
    results = []
    for variant in args.variant or VARIANTS:
        runs = [run_once(variant) for _ in range(args.runs)]
        results.append({**runs[0], "ready_s": statistics.median(r["ready_s"] for r in runs),
                        "rss_mb": statistics.median(r["rss_mb"] for r in runs),
                        "runs": [(r["ready_s"], r["rss_mb"]) for r in runs]})
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print(f"{'variant':<14}{'ready (s)':>10}{'RSS (MB)':>10}  feishu routes  lark_oapi  runs (s, MB)")
    for r in results:
        print(f"{r['variant']:<14}{r['ready_s']:>10.3f}{r['rss_mb']:>10.1f}  {str(r['feishu_routes']):<13}  "
              f"{str(r['lark_oapi_loaded']):<9}  {r['runs']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
