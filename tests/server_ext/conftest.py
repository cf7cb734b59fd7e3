"""Fixtures for the server extension tests; the launcher itself lives in tests/jupyter_fixtures.py."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, Mapping

import pytest

from capture_http import CaptureServer
from jupyter_fixtures import JupyterServer, start_jupyter

JupyterFactory = Callable[..., JupyterServer]


@pytest.fixture
def jupyter_factory(tmp_path: Path) -> Iterator[JupyterFactory]:
    """factory(env=None, app="server", extra_args=None, base_path="/") → a started JupyterServer, stopped at teardown.

    Its root dir is `tmp_path / "root<n>"`, its Jupyter state `tmp_path / "jupyter<n>"`.
    """
    started: list[JupyterServer] = []

    def factory(env: Mapping[str, str] | None = None, app: str = "server", extra_args: list[str] | None = None,
                base_path: str = "/") -> JupyterServer:
        n = len(started)
        server = start_jupyter(tmp_path / f"root{n}", tmp_path / f"jupyter{n}", env=env, app=app,
                               extra_args=extra_args, base_path=base_path)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def capture_factory() -> Iterator[Callable[..., CaptureServer]]:
    """factory(drop_idle_after=None) → a started `CaptureServer` (tests/server_ext/capture_http.py), stopped at teardown."""
    started: list[CaptureServer] = []

    def factory(drop_idle_after: float | None = None) -> CaptureServer:
        server = CaptureServer(drop_idle_after=drop_idle_after).start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()
