"""Helpers for SDK tests: run a user's script as its own process against the real server."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import requests
from polling import wait_for  # noqa: F401  (re-exported for the SDK tests)


class ScriptRunner:
    """Write a Python script into a temp folder and run it with the server's client environment."""

    def __init__(self, server: Any, tmp_path: Path):
        self.server = server
        self.tmp_path = tmp_path
        self.count = 0

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(self.server.env)
        env.update(
            LABTRACK_FLUSH_INTERVAL="0.2", LABTRACK_HEARTBEAT_INTERVAL="0.5", LABTRACK_MONITOR_INTERVAL="0.5",
            PYTHONUNBUFFERED="1", LABTRACK_EXIT_TIMEOUT="20",
        )
        env.pop("LABTRACK_TASK_ID", None)
        env.pop("LABTRACK_OFFLINE", None)
        env.update(extra)
        return env

    def write(self, code: str) -> Path:
        self.count += 1
        path = self.tmp_path / f"script{self.count}.py"
        path.write_text(textwrap.dedent(code))
        return path

    def run(self, code: str, args: list[str] | None = None, timeout: float = 90, check: bool = True,
            **env: str) -> subprocess.CompletedProcess:
        path = self.write(code)
        proc = subprocess.run([sys.executable, str(path), *(args or [])], env=self.env(**env), cwd=self.tmp_path,
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"script failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def start(self, code: str, args: list[str] | None = None, **env: str) -> subprocess.Popen:
        path = self.write(code)
        return subprocess.Popen([sys.executable, str(path), *(args or [])], env=self.env(**env), cwd=self.tmp_path,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    # -- reading what the server has -------------------------------------------------------------

    def get(self, path: str, **params: Any) -> Any:
        resp = requests.get(f"{self.server.api}{path}", params=params, headers=self.server.headers, timeout=30)
        resp.raise_for_status()
        return resp.json()

    def post(self, path: str, body: Any = None) -> Any:
        resp = requests.post(f"{self.server.api}{path}", json=body or {}, headers=self.server.headers, timeout=30)
        resp.raise_for_status()
        return resp.json()

    def series(self, task_id: str, metric: str, variant: str) -> tuple[list[int], list[Any]]:
        its: list[int] = []
        vals: list[Any] = []
        params: dict[str, Any] = {"metric": metric, "variant": variant, "limit": 100000}
        while True:
            page = self.get(f"/tasks/{task_id}/scalars", **params)
            its += page["iterations"]
            vals += page["values"]
            if not page.get("next_cursor"):
                return its, vals
            params["cursor"] = page["next_cursor"]


@pytest.fixture
def scripts(tracking_server: Any, tmp_path: Path) -> ScriptRunner:
    return ScriptRunner(tracking_server, tmp_path)


def task_id_from(output: str) -> str:
    """Scripts print `TASK <id>`; return the id."""
    for line in output.splitlines():
        if line.startswith("TASK "):
            return line.split()[1]
    raise AssertionError(f"no TASK line in output:\n{output}")

