"""Fixtures for dataset tests: an SDK client bound to a real server, with its own cache and staging."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dataset_helpers import client_for

from labtrack.sdk.client import ApiClient


@pytest.fixture
def client_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A LABTRACK_HOME of the client's own (staging records, local dataset cache)."""
    home = tmp_path / "client-home"
    home.mkdir()
    monkeypatch.setenv("LABTRACK_HOME", str(home))
    monkeypatch.delenv("LABTRACK_DATASET_CACHE", raising=False)
    return home


@pytest.fixture
def client(tracking_server: Any, client_home: Path) -> ApiClient:
    return client_for(tracking_server)
