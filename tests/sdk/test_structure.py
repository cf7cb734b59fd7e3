"""The SDK's modules form layers: no import circle, counting imports inside functions and
TYPE_CHECKING blocks (a lazy import of an upper module is still a circle, only a hidden one)."""

from __future__ import annotations

import ast
from pathlib import Path

SDK = Path(__file__).resolve().parents[2] / "labtrack" / "sdk"
PACKAGE = "labtrack.sdk"


def _imported_modules(path: Path, modules: set[str]) -> set[str]:
    """Every labtrack.sdk module `path` imports, wherever the import statement sits."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x / from .x import y
                base = ".".join([PACKAGE, base] if base else [PACKAGE]) if node.level == 1 else base
            # `from labtrack.sdk import task` imports the module labtrack.sdk.task.
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != PACKAGE:
                found.add(name)
    return found


def sdk_import_graph() -> dict[str, set[str]]:
    files = {f"{PACKAGE}.{p.stem}": p for p in SDK.glob("*.py") if p.stem != "__init__"}
    modules = set(files) | {PACKAGE}
    return {name: _imported_modules(path, modules) - {name} for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state:
                cycle = visit(dep)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_graph_builder_sees_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from labtrack.sdk import errors\n"
        "if TYPE_CHECKING:\n    from labtrack.sdk.task import Task\n"
        "def f():\n    from labtrack.sdk.logger import Logger\n    import labtrack.sdk.spool\n"
        "def g():\n    from . import transport\n"
    )
    modules = {PACKAGE, *(f"{PACKAGE}.{m}" for m in ("errors", "task", "logger", "spool", "transport"))}
    assert _imported_modules(source, modules) == modules - {PACKAGE}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_sdk_modules_import_no_circle() -> None:
    graph = sdk_import_graph()
    assert f"{PACKAGE}.task" in graph and f"{PACKAGE}.transport" in graph[f"{PACKAGE}.task"]
    cycle = find_cycle(graph)
    assert cycle is None, "import circle in labtrack/sdk: " + " -> ".join(m.rpartition(".")[2] for m in cycle or [])


def test_importing_labtrack_loads_no_heavy_package() -> None:
    """`import labtrack` runs in every tracked script and kernel, and its cost is paid each time.
    nbformat pulls jsonschema in (about 1.7 s here); numpy, pandas and the server stack aren't
    needed for logging either. They load when a feature needs them."""
    import subprocess
    import sys

    heavy = ["nbformat", "jsonschema", "numpy", "pandas", "fastapi", "sqlalchemy", "labtrack.server"]
    code = "import sys, labtrack; from labtrack import Task, Logger; print(' '.join(m for m in %r if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code % heavy], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == [], f"`import labtrack` loads {loaded}: import them where they are used"
