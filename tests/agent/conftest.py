"""Agent tests: a real server on loopback, real `labtrack agent` processes, tasks made over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from agent_lab import Lab


@pytest.fixture
def lab(server_factory: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Lab]:
    """A started server (extra server arguments from `@pytest.mark.server_args(...)`) and its agents."""
    marker = request.node.get_closest_marker("server_args")
    server = server_factory("sqlite", list(marker.args) if marker else [])
    server.start()
    lab = Lab(server, tmp_path)
    try:
        yield lab
    finally:
        lab.stop_agents()
        server.stop()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "server_args(*args): extra `labtrack server` arguments for the lab fixture")
