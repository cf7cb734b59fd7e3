"""With nothing configured, Jupyter starts the per-user embedded server, hands it to kernels, and
stops it again on shutdown; a later Jupyter starts a fresh one despite config.json's stale address."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psutil
import requests

from labtrack.server_ext.connection import answers_health


def kernel_environment(jupyter) -> dict[str, str]:
    """Start a kernel through Jupyter's REST API and read the environment it was started with."""
    kernel = requests.post(jupyter.url("api/kernels"), json={"name": "python3"}, headers=jupyter.headers, timeout=30)
    assert kernel.status_code == 201, kernel.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for child in psutil.Process(jupyter.proc.pid).children(recursive=True):
            try:
                if "ipykernel_launcher" in " ".join(child.cmdline()):
                    return child.environ()
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.2)
    raise AssertionError("no kernel process appeared")


def test_embedded_server_started_shared_with_kernels_and_stopped(jupyter_factory, tmp_path: Path) -> None:
    home = tmp_path / "labtrack-home"
    jupyter = jupyter_factory(env={"LABTRACK_HOME": str(home)})
    config = requests.get(jupyter.url("labtrack/config"), headers=jupyter.headers, timeout=10).json()
    assert config["embedded"] is True and config["connected"] is True, config
    url = config["server_url"]
    assert url.startswith("http://127.0.0.1:") and "api_key" not in json.dumps(config)
    # The proxy reaches it with the key the embedded server generated (and the browser never sees).
    saved = json.loads((home / "config" / "config.json").read_text())
    projects = requests.get(jupyter.url("labtrack/api/v1/projects"), headers=jupyter.headers, timeout=10)
    assert projects.status_code == 200 and saved["api_key"] not in projects.text
    # Kernels inherit the server's address and key, so `Task.init()` in a notebook just works.
    env = kernel_environment(jupyter)
    assert env["LABTRACK_API_URL"] == url and env["LABTRACK_API_KEY"] == saved["api_key"]

    assert jupyter.stop() == 0
    assert "stopped the embedded tracking server" in jupyter.log_text()
    assert not answers_health(url, timeout=1.0)

    # config.json still names the stopped server: the next Jupyter starts a fresh one instead.
    again = jupyter_factory(env={"LABTRACK_HOME": str(home)})
    config = requests.get(again.url("labtrack/config"), headers=again.headers, timeout=10).json()
    assert config["embedded"] is True and config["connected"] is True, config
    assert requests.get(again.url("labtrack/api/v1/projects"), headers=again.headers, timeout=10).status_code == 200
    again.stop()
    assert not answers_health(config["server_url"], timeout=1.0)


def test_a_running_embedded_server_is_reused_and_left_running(jupyter_factory, tmp_path: Path, monkeypatch) -> None:
    from labtrack.local_server import ensure_embedded_server, stop_embedded_server

    home = tmp_path / "labtrack-home"
    monkeypatch.setenv("LABTRACK_HOME", str(home))
    mine = ensure_embedded_server()  # e.g. started earlier by a script's Task.init
    try:
        jupyter = jupyter_factory(env={"LABTRACK_HOME": str(home)})
        config = requests.get(jupyter.url("labtrack/config"), headers=jupyter.headers, timeout=10).json()
        assert config["connected"] is True and config["server_url"] == mine.url
        jupyter.stop()
        assert answers_health(mine.url)  # not Jupyter's to stop
    finally:
        stop_embedded_server(mine)


def test_a_kernels_open_task_is_completed_when_jupyter_stops(jupyter_factory, tmp_path: Path, monkeypatch) -> None:
    """Jupyter stops extensions before kernels: the embedded server must outlive the kernels' last flush."""
    from jupyter_client import BlockingKernelClient

    from labtrack.local_server import ensure_embedded_server, stop_embedded_server

    home = tmp_path / "labtrack-home"
    jupyter = jupyter_factory(env={"LABTRACK_HOME": str(home)})
    kernel = requests.post(jupyter.url("api/kernels"), json={"name": "python3"}, headers=jupyter.headers, timeout=30)
    assert kernel.status_code == 201, kernel.text
    client = BlockingKernelClient()
    client.load_connection_file(str(jupyter.state_dir / "runtime" / f"kernel-{kernel.json()['id']}.json"))
    client.start_channels()
    printed: list[str] = []
    try:
        client.wait_for_ready(timeout=60)
        code = (
            "import labtrack\n"
            "task = labtrack.Task.init('ext/shutdown', 'open at shutdown')\n"
            "log = task.get_logger()\n"
            "for i in range(5000):\n"
            "    log.report_scalar('loss', 'train', 1.0 / (i + 1), i)\n"
            "print('TASK', task.id)\n"
        )
        keep_stream = lambda msg: printed.append(msg["content"].get("text", "")) if msg["msg_type"] == "stream" else None  # noqa: E731
        reply = client.execute_interactive(code, timeout=60, output_hook=keep_stream)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        client.stop_channels()
    task_id = "".join(printed).split("TASK", 1)[1].split()[0]
    url = json.loads((home / "config" / "config.json").read_text())["api_url"]

    assert jupyter.stop() == 0  # the task is still open in the kernel at this point
    assert not answers_health(url, timeout=1.0)

    # Read it back from a fresh embedded server on the same data.
    monkeypatch.setenv("LABTRACK_HOME", str(home))
    server = ensure_embedded_server()
    try:
        headers = {"Authorization": f"Bearer {server.api_key}"}
        task = requests.get(f"{server.url}/api/v1/tasks/{task_id}", headers=headers, timeout=10).json()
        assert task["status"] == "completed", task["status"]
        assert task["last_metrics"]["loss"]["train"]["count"] == 5000
    finally:
        stop_embedded_server(server)
