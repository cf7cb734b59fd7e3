"""`labtrack status` says where runs go (server, data folder, task count) without starting
anything; `labtrack server stop` stops the per-user server that a script left running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil

from polling import wait_for


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABTRACK_")}
    return dict(env, LABTRACK_HOME=str(home), LABTRACK_MONITOR_INTERVAL="60", **extra)


def _labtrack(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labtrack", *args], env=env, capture_output=True, text=True, timeout=120)


def test_status_and_stop_of_the_per_user_server(tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    before = _labtrack(env, "status", "--json")
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout)["url"] is None  # looking started nothing
    assert not (tmp_path / "home" / "data" / "server.json").exists()

    script = "import labtrack\nfor name in ('a', 'b'):\n    labtrack.Task.init('status-demo', name).close()\n"
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    state = json.loads((tmp_path / "home" / "data" / "server.json").read_text())
    try:
        status = json.loads(_labtrack(env, "status", "--json").stdout)
        assert status["url"] == state["url"] and status["embedded"] and status["pid"] == state["pid"]
        assert status["answering"] and status["tasks"] == 2 and status["projects"] == 1
        assert status["data_dir"] == str(tmp_path / "home" / "data")
        text = _labtrack(env, "status").stdout
        assert state["url"] in text and "labtrack server stop" in text and "2 in 1 project" in text, text

        stopped = _labtrack(env, "server", "stop")
        assert stopped.returncode == 0 and f"pid {state['pid']}" in stopped.stdout, stopped.stdout + stopped.stderr
        wait_for(lambda: not psutil.pid_exists(state["pid"]) or psutil.Process(state["pid"]).status() == psutil.STATUS_ZOMBIE,
                 timeout=20, what="the per-user server to exit")
        assert json.loads(_labtrack(env, "status", "--json").stdout)["url"] is None
        again = _labtrack(env, "server", "stop")
        assert again.returncode == 0 and "not running" in again.stdout
    finally:
        if psutil.pid_exists(state["pid"]):
            psutil.Process(state["pid"]).kill()


def test_status_names_a_server_from_the_environment(tracking_server, tmp_path: Path) -> None:
    env = _env(tmp_path / "home", LABTRACK_API_URL=tracking_server.url, LABTRACK_API_KEY=tracking_server.api_key)
    status = json.loads(_labtrack(env, "status", "--json").stdout)
    assert status["url"] == tracking_server.url and status["found_by"] == "LABTRACK_API_URL"
    assert not status["embedded"] and status["answering"] and status["tasks"] == 0
    # A server that does not answer is reported, with a failing exit status.
    tracking_server.stop()
    down = _labtrack(env, "status")
    assert down.returncode == 1 and "does not answer" in down.stdout, down.stdout
