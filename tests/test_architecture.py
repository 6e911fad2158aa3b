"""The layers hold: no import cycle, no import up the layers, no platform in the domain, no Chinese in Python."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Top to bottom: a module may import its own layer and the layers below it, never one above.
# relay/ may not exist yet in a given tree; it keeps its place in the order all the same.
LAYERS = ("bot", "relay", "conversations", "dispatch", "store")
# Beside every layer: any of them may import it, and it imports none of them.
BESIDE = "templates"

# The platform-free rule (architecture.md): platform code never in the domain; persistence knows no chat.
FORBIDDEN = {
    "relay": ("bot", "wechatpy", "lark_oapi", "aiohttp"),
    "conversations": ("bot", "relay", "wechatpy", "lark_oapi", "aiohttp"),
    "dispatch": ("bot", "relay", "wechatpy", "lark_oapi", "aiohttp"),
    "store": ("bot", "relay", "conversations", "dispatch", "wechatpy", "lark_oapi", "aiohttp"),
}

# Cycles known and accepted: none. The test fails on a new one, and on an entry here that is no longer a cycle.
KNOWN_CYCLES: tuple[frozenset[str], ...] = ()


# ---- the import graph --------------------------------------------------------------------------------

def modules_of(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the given top-level packages under root."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module an imported dotted name lives in: the longest known prefix (None: not ours)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def imports_of(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every project module this one imports: at the top, inside functions and under TYPE_CHECKING alike.

    A function-level import runs as surely as a top-level one (that is how dispatch's cycle hid), and a
    type-only import is still a dependency a reader has to follow; neither gets a pass.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from dispatch import outbox` imports the module dispatch.outbox, not the package's __init__.
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        targets |= {t for t in (_resolve(n, known) for n in names) if t and t != module}
    return targets


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    known = modules_of(root, packages)
    return {module: imports_of(module, path, known) for module, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan): each one is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def upward_imports(graph: dict[str, set[str]], layers: tuple[str, ...] = LAYERS, beside: str = BESIDE) -> list[str]:
    """Imports that run up the layers, and any import from the module beside them into a layer."""
    rank = {name: i for i, name in enumerate(layers)}
    offenders = []
    for module, targets in sorted(graph.items()):
        top = module.split(".")[0]
        for target in sorted(targets):
            to = target.split(".")[0]
            if top == beside and to in rank:
                offenders.append(f"{module} imports {target}: {beside}/ imports no layer")
            elif top in rank and to in rank and rank[to] < rank[top]:
                offenders.append(f"{module} imports {target}: {to}/ is above {top}/")
    return offenders


PACKAGES = (*LAYERS, BESIDE)


def test_no_import_cycle_between_modules():
    found = set(cycles(import_graph(ROOT, PACKAGES)))
    unexpected = sorted(sorted(c) for c in found - set(KNOWN_CYCLES))
    gone = sorted(sorted(c) for c in set(KNOWN_CYCLES) - found)
    assert unexpected == [], "import cycles"
    assert gone == [], "no longer a cycle: remove it from KNOWN_CYCLES"


def test_no_import_runs_up_the_layers():
    assert upward_imports(import_graph(ROOT, PACKAGES)) == []


def test_the_checker_catches_a_planted_cycle_and_an_upward_import(tmp_path):
    """The checks above cannot pass by seeing nothing: on a tiny tree they find what was planted."""
    def write(name: str, text: str = "") -> None:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    for package in ("top", "low", "beside"):
        write(f"{package}/__init__.py")
    write("low/a.py", "from low import b\n")
    write("low/b.py", "def later():\n    from .c import thing\n")    # inside a function, relative
    write("low/c.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import low.a\nthing = 1\n")
    write("low/d.py", "import top.x\n")                                  # up a layer
    write("top/x.py", "from low.a import b\nimport beside.t\n")          # down, and beside: both fine
    write("beside/t.py", "import low.c\n")                               # beside imports a layer
    write("low/e.py", "import os, json\nfrom low import d\n")            # nothing wrong here

    graph = import_graph(tmp_path, ("top", "low", "beside"))
    assert graph["low.b"] == {"low.c"} and graph["low.c"] == {"low.a"} and graph["low.a"] == {"low.b"}
    assert cycles(graph) == [frozenset({"low.a", "low.b", "low.c"})]
    assert upward_imports(graph, ("top", "low"), "beside") == [
        "beside.t imports low.c: beside/ imports no layer",
        "low.d imports top.x: top/ is above low/",
    ]
    write("low/c.py", "thing = 1\n")  # the cycle broken
    assert cycles(import_graph(tmp_path, ("top", "low", "beside"))) == []


def _third_party_imports(path: Path) -> set[str]:
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
        for name in _third_party_imports(path):
            if name.split(".")[0] in FORBIDDEN[package]:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


# ---- no Chinese in Python ------------------------------------------------------------------------------

# Han ideographs (CJK Unified Ideographs, Extension A, compatibility ideographs): a Chinese word.
# Full-width punctuation alone (the `：` between a card field and its value) is layout, not a word.
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
CHECKED = ("bot", "relay", "conversations", "dispatch", "store")


def chinese_literals(path: Path) -> list[str]:
    """Every string literal (f-string parts and regular expressions included) holding a Chinese word.

    Docstrings are exempt: a developer reads them, never a resident; they may name a thing in Chinese.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body \
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            docstrings.add(id(body[0].value))
    found = [node for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
             and id(node) not in docstrings and HAN.search(node.value)]
    return [f"{node.lineno}: {node.value[:40]!r}" for node in sorted(found, key=lambda n: (n.lineno, n.col_offset))]


def test_no_chinese_in_python():
    """Every word a person reads or types lives in templates/ (or a rule file such as conversations/*.toml).

    Tests and benchmarks (bench/) are not checked: their Chinese is what a resident would send.
    """
    offenders = []
    for package in CHECKED:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            offenders += [f"{name}:{where}" for where in chinese_literals(path)]
    assert offenders == []


def test_the_chinese_check_sees_words_not_only_sentences(tmp_path):
    path = tmp_path / "m.py"
    path.write_text('"""报修 in a docstring is fine."""\nimport re\nYES = re.compile(r"^(确认|ok)$")\n'
                    'LABEL = "公共区域"\nSEP = "："\nLINE = f"{1}栋"\n', encoding="utf-8")
    assert [line.split(":")[0] for line in chinese_literals(path)] == ["3", "4", "6"]


# ---- rule files ship with the code ----------------------------------------------------------------------

def test_every_data_file_of_a_package_ships_in_the_wheel():
    """A rule file, template or example set the code reads at run time is listed in pyproject's package-data.

    A new conversations/*.toml that the wheel leaves out would pass every test here and fail at import on a
    server.
    """
    import glob
    import tomllib

    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]
    shipped = set()
    for package, patterns in package_data.items():
        folder = ROOT / package.replace(".", "/")
        for pattern in patterns:
            shipped |= {(folder / name).resolve() for name in glob.glob(pattern, root_dir=folder, recursive=True)}
    data_files = [path for package in (*CHECKED, "templates") if (ROOT / package).is_dir()
                  for path in (ROOT / package).rglob("*")
                  if path.is_file() and path.suffix not in {".py", ".pyc"} and "__pycache__" not in path.parts]
    assert data_files
    assert [path.relative_to(ROOT).as_posix() for path in data_files if path.resolve() not in shipped] == []
