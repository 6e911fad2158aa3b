"""The one rule: platform code never in the domain (architecture.md); persistence knows no chat."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "relay": ("bot", "wechatpy", "lark_oapi", "aiohttp"),
    "conversations": ("bot", "relay", "wechatpy", "lark_oapi", "aiohttp"),
    "dispatch": ("bot", "relay", "wechatpy", "lark_oapi", "aiohttp"),
    "store": ("bot", "relay", "conversations", "dispatch", "wechatpy", "lark_oapi", "aiohttp"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_nothing_it_must_not(package):
    offenders = []
    for path in (ROOT / package).rglob("*.py"):
        for name in _imports(path):
            if name.split(".")[0] in FORBIDDEN[package]:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_no_chinese_sentences_in_python():
    """Every sentence a person reads lives in templates/: no CJK sentence in a Python string.

    Docstrings and regular expressions may hold Chinese words: they are read by developers and the
    matcher, never sent to a person.
    """
    import re
    sentence = re.compile(r"[\u4e00-\u9fff].*[。！？，；]|[。！？，；].*[\u4e00-\u9fff]")
    offenders = []
    for package in ("bot", "relay", "conversations", "dispatch", "store"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            skip = set()
            for node in ast.walk(tree):
                body = getattr(node, "body", None)
                if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                        and isinstance(body[0].value, ast.Constant):
                    skip.add(id(body[0].value))  # a docstring
                if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("compile", "search", "match",
                                                                                      "sub", "fullmatch", "split"):
                    skip |= {id(n) for a in node.args for n in ast.walk(a)}
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                    if sentence.search(node.value):
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:40]}")
    assert offenders == []
