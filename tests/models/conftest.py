"""Fixtures for model tests: plain HTTP against the server. `client` and `client_home` (an SDK
client with its own model cache) are shared, in tests/conftest.py."""

from __future__ import annotations

from typing import Any

import pytest
from model_helpers import Api


@pytest.fixture
def api(tracking_server: Any) -> Api:
    return Api(tracking_server)
