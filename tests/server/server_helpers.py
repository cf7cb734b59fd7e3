"""Small HTTP helpers for server tests (a thin requests session bound to one test server)."""

from __future__ import annotations

from typing import Any

import requests


class Api:
    """A requests session that prefixes `/api/v1` and sends the server's key."""

    def __init__(self, server: Any, key: str | None = None) -> None:
        self.base = server.api
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key or server.api_key}"

    def __getattr__(self, verb: str):  # get/post/put/patch/delete
        method = getattr(self.session, verb)

        def call(path: str, **kwargs: Any) -> requests.Response:
            kwargs.setdefault("timeout", 30)
            return method(self.base + path, **kwargs)

        return call

    def task(self, name: str = "t", project: str = "proj", **fields: Any) -> dict:
        """Create a task and return it."""
        r = self.post("/tasks", json={"name": name, "project_name": project, **fields})
        assert r.status_code == 201, r.text
        return r.json()


def error(resp: requests.Response, status: int, code: str | None = None) -> dict:
    """Assert the one error shape with a status (and code) and return its inner object."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["message"], body
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]
