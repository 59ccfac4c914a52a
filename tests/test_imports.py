"""The package's imports point one way (no circles) and use no other module's private names.

Every import statement counts, also those inside functions and under ``TYPE_CHECKING``:
a circle hidden behind a lazy import is still a circle in the design.

The top-level ``cli.py``, ``cli_options.py``, ``roi/`` and ``vectorize/`` of the checkout
are clipvg's submodules (``clipvg.cli``, ``clipvg.roi``, ...): a wheel installs them only
there, so nothing may import them by their bare top-level names.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import clipvg

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("clipvg", "roi", "vectorize")
#: The bare names a wheel does not install (they live in clipvg's namespace).
BARE = set(clipvg.SOURCE_TREE_MODULES)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] in BARE:  # roi/split.py -> clipvg.roi.split, cli.py -> clipvg.cli
        parts.insert(0, "clipvg")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    files = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    return {_module_name(p): p for p in [*files, ROOT / "cli.py", ROOT / "cli_options.py"]}


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
    assert "clipvg.render" in graph["clipvg.roi.mask"]  # imported inside a function
    assert "clipvg.launch" in graph["clipvg.cli"] and "clipvg.edit" not in graph["clipvg.cli"]
    assert "clipvg.cli_options" in graph["clipvg.cli"]


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


def _bare_imports(path: Path, root: Path = ROOT) -> list[str]:
    """``file:line name`` for every import of a bare top-level name of :data:`BARE`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        else:
            continue
        found += [
            f"{path.relative_to(root)}:{node.lineno} {n}" for n in names if n.split(".")[0] in BARE
        ]
    return found


def _code_files() -> list[Path]:
    folders = ("clipvg", "roi", "vectorize", "tests", "benchmarks", "examples")
    return [p for f in folders for p in sorted((ROOT / f).rglob("*.py"))] + sorted(
        ROOT.glob("*.py")
    )


def test_the_bare_import_check_sees_one(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import roi.split\nfrom cli_options import x\nfrom clipvg.roi import ROI\n"
        "def f():\n    import vectorize, cli\n"
    )
    found = [line.split()[1] for line in _bare_imports(probe, tmp_path)]
    assert found == ["roi.split", "cli_options", "vectorize", "cli"]


def test_nothing_imports_the_bare_top_level_names():
    files = _code_files()
    assert ROOT / "cli.py" in files and ROOT / "examples" / "demo.py" in files
    assert [hit for p in files for hit in _bare_imports(p)] == []


def test_the_namespaced_names_resolve_to_the_top_level_of_a_checkout():
    import clipvg.cli
    import clipvg.cli_options
    import clipvg.roi.split
    import clipvg.vectorize.pipeline

    assert Path(clipvg.cli.__file__) == ROOT / "cli.py"
    assert Path(clipvg.cli_options.__file__) == ROOT / "cli_options.py"
    assert Path(clipvg.roi.split.__file__) == ROOT / "roi" / "split.py"
    assert list(clipvg.vectorize.__path__) == [str(ROOT / "vectorize")]


@pytest.mark.parametrize(
    "name", ["clipvg.tests", "clipvg.benchmarks", "clipvg.setup", "clipvg.nope"]
)
def test_the_finder_answers_only_its_four_names(name):
    with pytest.raises(ModuleNotFoundError):
        __import__(name)


def test_the_whole_program_loads_no_bare_module():
    """Importing every front end in a fresh process puts no bare ``roi``/``cli``/... in sys.modules."""
    code = (
        "import sys, clipvg.cli, clipvg.session, clipvg.evaluate, clipvg.batch, clipvg.serve.app\n"
        "import clipvg.serve.vectorizer, clipvg.vectorize.pipeline\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(BARE)!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_python_m_clipvg_runs_the_command_line():
    out = subprocess.run(
        [sys.executable, "-m", "clipvg", "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: clipvg ")
