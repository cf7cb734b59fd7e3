"""The client/server boundary and the layering inside server_ext/ hold (DESIGN.md, STYLE.md).

Clients (sdk/, server_ext/, agent/ and the per-user server's finder, local_server) import nothing
from labtrack.server, and no module of server_ext/ imports one that imports it back — counting
imports inside functions and under TYPE_CHECKING, which are circles too.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

PACKAGE = Path(__file__).resolve().parents[2] / "labtrack"
CLIENT_SOURCES = [PACKAGE / "sdk", PACKAGE / "server_ext", PACKAGE / "agent", PACKAGE / "local_server.py"]


def is_server_module(name: str) -> bool:
    return name == "labtrack.server" or name.startswith("labtrack.server.")


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports anywhere in its body (`from pkg import sub` counts as `pkg.sub`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def python_files(source: Path) -> list[Path]:
    return [source] if source.is_file() else sorted(source.rglob("*.py"))


def test_no_client_source_imports_the_server() -> None:
    offenders = {
        str(path.relative_to(PACKAGE.parent)): sorted(filter(is_server_module, imported_modules(path)))
        for source in CLIENT_SOURCES for path in python_files(source)
    }
    assert {path: names for path, names in offenders.items() if names} == {}


# Runs in a fresh interpreter: import every client module, then find (here: start) the per-user
# server as Task.init and JupyterLab do, and report which labtrack.server modules got loaded.
IMPORT_PROBE = """
import importlib, json, pkgutil, sys
import labtrack.sdk, labtrack.server_ext
for package in (labtrack.sdk, labtrack.server_ext):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
from labtrack import local_server
from labtrack.sdk.client import ApiClient
client = ApiClient.from_environment()
print(json.dumps({"url": client.url, "key": client.api_key,
                  "server_modules": sorted(m for m in sys.modules if m == "labtrack.server" or m.startswith("labtrack.server."))}))
"""


def test_clients_load_no_server_module_even_when_starting_the_local_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABTRACK_")}
    env["LABTRACK_HOME"] = str(tmp_path / "home")
    result = subprocess.run([sys.executable, "-c", IMPORT_PROBE], env=env, capture_output=True, text=True, timeout=120)
    state_file = tmp_path / "home" / "data" / "server.json"
    try:
        assert result.returncode == 0, result.stderr[-3000:]
        probe = json.loads(result.stdout.strip().splitlines()[-1])
        assert probe["server_modules"] == []
        # The server it started (a separate process) accepts the key the client made.
        answer = requests.get(f"{probe['url']}/api/v1/projects", headers={"Authorization": f"Bearer {probe['key']}"},
                              timeout=10)
        assert answer.status_code == 200, answer.text
    finally:
        if state_file.exists():
            from labtrack.local_server import EmbeddedServer, stop_embedded_server

            state = json.loads(state_file.read_text())
            stop_embedded_server(EmbeddedServer(state["url"], state["api_key"], state["pid"], started=True))


def intra_package_graph(package: Path) -> dict[str, set[str]]:
    """module → the modules of the same package it imports (the package's __init__ excluded as a target)."""
    prefix = f"labtrack.{package.name}."
    modules = {path.stem: path for path in package.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {imported.removeprefix(prefix).split(".")[0] for imported in imported_modules(path)
                   if imported.startswith(prefix)}
        graph[name] = {target for target in targets if target in modules and target != "__init__"} - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle in `graph`, as a path that ends where it starts, or None."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return path[path.index(target):] + [node, target] if target in path else [node, target]
            if target not in state and (cycle := visit(target, path + [node])):
                return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [])):
            return cycle
    return None


@pytest.mark.parametrize("package", ["server_ext"])
def test_no_import_circles(package: str) -> None:
    graph = intra_package_graph(PACKAGE / package)
    assert find_cycle(graph) is None, " → ".join(find_cycle(graph) or [])


def test_the_circle_finder_finds_circles() -> None:
    assert find_cycle({"app": {"handlers"}, "handlers": {"base"}, "base": set()}) is None
    assert find_cycle({"app": {"handlers"}, "handlers": {"proxy"}, "proxy": {"app"}}) == ["app", "handlers", "proxy", "app"]
