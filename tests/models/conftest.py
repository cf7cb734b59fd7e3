"""Fixtures for model tests: an SDK client bound to a real server, with its own model cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from model_helpers import Api

from labtrack.sdk.client import ApiClient


@pytest.fixture
def client_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A LABTRACK_HOME of the client's own (its model cache lives under it)."""
    home = tmp_path / "client-home"
    home.mkdir()
    monkeypatch.setenv("LABTRACK_HOME", str(home))
    monkeypatch.delenv("LABTRACK_MODEL_CACHE", raising=False)
    return home


@pytest.fixture
def api(tracking_server: Any) -> Api:
    return Api(tracking_server)


@pytest.fixture
def client(tracking_server: Any, client_home: Path) -> ApiClient:
    return ApiClient(tracking_server.url, tracking_server.api_key)


