"""The agent's modules form layers (no import circle) and import nothing of the server.

(tests/server_ext/test_ext_structure.py checks every client package, agent/ included, for server
imports; this adds the layering inside agent/, lazy and TYPE_CHECKING imports counted.)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server_ext"))
from test_ext_structure import PACKAGE, find_cycle, imported_modules, intra_package_graph, is_server_module  # noqa: E402

AGENT = PACKAGE / "agent"


def test_agent_modules_import_no_circle_and_execution_sits_below_the_daemon() -> None:
    graph = intra_package_graph(AGENT)
    assert "execution" in graph["daemon"] and "daemon" not in graph["execution"]
    assert find_cycle(graph) is None, " → ".join(find_cycle(graph) or [])


def test_agent_imports_nothing_from_the_server() -> None:
    offenders = {path.name: sorted(filter(is_server_module, imported_modules(path))) for path in AGENT.glob("*.py")}
    assert {name: found for name, found in offenders.items() if found} == {}
