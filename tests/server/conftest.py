"""Fixtures for server tests: an API client bound to the session's server."""

from __future__ import annotations

import pytest

from server_helpers import Api


@pytest.fixture
def api(any_tracking_server) -> Api:
    """A client for a fresh server, once on SQLite and once on PostgreSQL."""
    return Api(any_tracking_server)


@pytest.fixture
def sqlite_api(tracking_server) -> Api:
    """A client for a fresh SQLite server."""
    return Api(tracking_server)
