"""The package's imports point one way (no circles) and use no other module's private names.

Every import statement counts, also those inside functions and under ``TYPE_CHECKING``:
a circle hidden behind a lazy import is still a circle in the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("clipvg", "roi", "vectorize")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    files = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    return {_module_name(p): p for p in [*files, ROOT / "cli.py"]}


def _imports(name: str, path: Path, known: set[str]) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import of ``path``, within ``known``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name in known]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                if f"{target}.{a.name}" in known:  # ``from . import module``
                    out.append((f"{target}.{a.name}", []))
                elif target in known:
                    out.append((target, [a.name]))
    return [(m, names) for m, names in out if m != name]


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: {t for t, _ in _imports(m, p, set(mods))} for m, p in mods.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_walker_sees_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_walker_reads_lazy_and_relative_imports():
    graph = import_graph()
    assert "clipvg.session" in graph["clipvg.edit"]
    assert "clipvg.render" in graph["roi.mask"]  # imported inside a function
    assert "clipvg.launch" in graph["cli"] and "clipvg.edit" not in graph["cli"]


def test_no_import_circles():
    assert circles(import_graph()) == []


def test_no_private_names_across_modules():
    mods = _modules()
    taken = [
        f"{m} takes {name} from {target}"
        for m, p in mods.items()
        for target, names in _imports(m, p, set(mods))
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert taken == []
