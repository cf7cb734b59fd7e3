"""`labtrack lab`: a workspace with the examples, JupyterLab on the quickstart, the embedded server."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import requests

from jupyter_fixtures import clean_env, free_port
from polling import wait_for
from labtrack.server_ext.connection import answers_health
from labtrack.server_ext.lab import lab_command, prepare_workspace


def test_workspace_keeps_the_users_edits(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    (examples / "data").mkdir(parents=True)
    (examples / "quickstart.ipynb").write_text("{}")
    (examples / "data" / "x.csv").write_text("a\n1\n")
    (examples / "make_quickstart.py").write_text("# generator")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "quickstart.ipynb").write_text("my edits")
    copied = prepare_workspace(workspace, examples)
    assert copied == [workspace / "data" / "x.csv"]
    assert (workspace / "quickstart.ipynb").read_text() == "my edits"
    assert not (workspace / "make_quickstart.py").exists()
    cmd = lab_command(workspace, 9999, open_browser=False)
    assert "--ip=127.0.0.1" in cmd and "--no-browser" in cmd and "--LabApp.default_url=/lab/tree/quickstart.ipynb" in cmd
    assert ("--allow-root" in cmd) == (os.geteuid() == 0)


def test_labtrack_lab_starts_jupyterlab_with_the_embedded_server(tmp_path: Path) -> None:
    port, token = free_port(), secrets.token_hex(8)
    home, state = tmp_path / "home", tmp_path / "jupyter"
    state.mkdir()
    env = clean_env({
        "LABTRACK_HOME": str(home), "JUPYTER_TOKEN": token,
        "JUPYTER_CONFIG_DIR": str(state / "config"), "JUPYTER_DATA_DIR": str(state / "data"),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(state / "ws"),
    })
    log = open(tmp_path / "lab.log", "wb")
    workspace = home / "data" / "workspace"
    proc = subprocess.Popen([sys.executable, "-m", "labtrack", "lab", "--no-browser", f"--port={port}",
                             f"--notebook-dir={workspace}"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base, headers = f"http://127.0.0.1:{port}/", {"Authorization": f"token {token}"}
    try:
        def lab_answers() -> bool:
            assert proc.poll() is None, (tmp_path / "lab.log").read_text()
            try:
                return requests.get(base + "api/status", headers=headers, timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for(lab_answers, timeout=90, interval=0.3, what="`labtrack lab` to answer")
        assert (workspace / "quickstart.ipynb").is_file()
        config = requests.get(base + "labtrack/config", headers=headers, timeout=10).json()
        assert config["connected"] and config["embedded"], config
        opened = requests.get(base + "lab/tree/quickstart.ipynb", headers=headers, timeout=30)
        assert opened.status_code == 200
        contents = requests.get(base + "api/contents/quickstart.ipynb", headers=headers, timeout=10).json()
        assert contents["type"] == "notebook"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
    assert not answers_health(config["server_url"], timeout=1.0)  # JupyterLab stopped what it started
    assert json.loads((home / "config" / "config.json").read_text())["api_key"] not in (tmp_path / "lab.log").read_text()
