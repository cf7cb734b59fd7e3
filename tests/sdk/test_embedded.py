"""With nothing configured, Task.init finds or starts the per-user embedded server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import requests

from tests.sdk.conftest import wait_for


def test_task_init_with_no_configuration_starts_embedded_server(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABTRACK_")}
    env.update(LABTRACK_HOME=str(tmp_path / "home"), LABTRACK_MONITOR_INTERVAL="60")
    code = "import labtrack\nt = labtrack.Task.init('fresh', 'machine')\nt.get_logger().report_scalar('a', 'b', 1.0, 0)\nprint('TASK', t.id)\n"
    state_file = tmp_path / "home" / "data" / "server.json"
    try:
        first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        state = json.loads(state_file.read_text())
        config = json.loads((tmp_path / "home" / "config" / "config.json").read_text())
        assert config["api_url"] == state["url"]
        task_id = first.stdout.split()[1]
        headers = {"Authorization": f"Bearer {config['api_key']}"}
        task = requests.get(f"{state['url']}/api/v1/tasks/{task_id}", headers=headers, timeout=10).json()
        assert task["status"] == "completed" and task["last_iteration"] == 0
        # The server stops; the config file still names it: the next run starts it again.
        os.kill(state["pid"], signal.SIGTERM)
        wait_for(lambda: not _alive(state["pid"]), what="embedded server to stop")
        second = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        assert json.loads(state_file.read_text())["pid"] != state["pid"]
    finally:
        if state_file.exists():
            pid = json.loads(state_file.read_text())["pid"]
            if _alive(pid):
                os.kill(pid, signal.SIGTERM)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours is dead too
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False
