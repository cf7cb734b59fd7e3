"""Helpers for model tests: plain HTTP against the server, and user scripts run as their own process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import requests


class Api:
    """Plain HTTP against the server, for checking what it stores (and how it refuses)."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def call(self, method: str, path: str, **kw: Any) -> requests.Response:
        return requests.request(method, f"{self.server.api}{path}", headers=self.server.headers, timeout=30, **kw)

    def ok(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.call(method, path, **kw)
        assert resp.status_code < 300, f"{method} {path} → {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    def refused(self, method: str, path: str, status: int, **kw: Any) -> dict[str, Any]:
        """The error of a request that must be refused with `status`, in the one JSON shape."""
        resp = self.call(method, path, **kw)
        assert resp.status_code == status, f"{method} {path} → {resp.status_code} {resp.text}"
        error = resp.json()["error"]
        assert set(error) == {"code", "message", "details"} and error["message"], error
        return error



def run_script(server: Any, folder: Path, name: str, code: str, home: Path, timeout: float = 120) -> str:
    """Run a user's script against the server in its own process; returns its stdout."""
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(code))
    env = dict(server.env, LABTRACK_HOME=str(home), PYTHONUNBUFFERED="1", LABTRACK_FLUSH_INTERVAL="0.2",
               LABTRACK_EXIT_TIMEOUT="20")
    env.pop("LABTRACK_TASK_ID", None)
    env.pop("LABTRACK_OFFLINE", None)
    env.pop("LABTRACK_MODEL_CACHE", None)
    proc = subprocess.run([sys.executable, str(path)], env=env, cwd=folder, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{name} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def printed(output: str, key: str) -> str:
    """The value of a `KEY value` line a script printed."""
    for line in output.splitlines():
        if line.startswith(key + " "):
            return line.split(" ", 1)[1]
    raise AssertionError(f"no {key} line in output:\n{output}")
