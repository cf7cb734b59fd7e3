"""Start a real Jupyter server (or JupyterLab) with the labtrack server extension, for tests.

Usable from any test package (tests/ is on sys.path under pytest's default import mode)::

    from jupyter_fixtures import start_jupyter

    def test_something(tracking_server, tmp_path):
        jupyter = start_jupyter(tmp_path / "root", tmp_path / "jupyter", env=tracking_server.env, app="lab")
        try:
            requests.get(jupyter.url("labtrack/config"), headers=jupyter.headers)
        finally:
            jupyter.stop()

or the `jupyter_factory` fixture in tests/server_ext/conftest.py, which stops what it started.
Every server gets its own port, token and JUPYTER_CONFIG_DIR/DATA_DIR/RUNTIME_DIR (plus
JupyterLab settings/workspaces and IPYTHONDIR), so nothing leaks between tests.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import requests

__all__ = ["JupyterServer", "start_jupyter", "free_port", "clean_env"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ without any LABTRACK_* or JUPYTER* variable, then `env` on top."""
    base = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("LABTRACK_", "JUPYTER", "IPYTHONDIR"))
    }
    base.update({k: v for k, v in (env or {}).items()})
    return base


@dataclass
class JupyterServer:
    """A running `jupyter server`/`jupyter lab` child process bound to 127.0.0.1."""

    port: int
    token: str
    root_dir: Path
    state_dir: Path
    proc: subprocess.Popen
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    base_path: str = "/"

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port><base_path>`, ending in a slash."""
        return f"http://127.0.0.1:{self.port}{self.base_path}"

    @property
    def headers(self) -> dict[str, str]:
        """Token authentication (requests authenticated this way skip Jupyter's XSRF check)."""
        return {"Authorization": f"token {self.token}"}

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (so extensions run their shutdown hooks), then kill after `timeout` seconds."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def _write_config(state_dir: Path) -> dict[str, str]:
    config_dir = state_dir / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    # Enabled explicitly so the tests do not depend on the package's installed auto-enable file.
    (config_dir / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"jpserver_extensions": {"labtrack.server_ext": True}},
    }))
    settings = state_dir / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    # The "fetch Jupyter news?" toast would cover the UI in browser tests.
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    dirs = {
        "JUPYTER_CONFIG_DIR": config_dir,
        "JUPYTER_DATA_DIR": state_dir / "data",
        "JUPYTER_RUNTIME_DIR": state_dir / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": state_dir / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": state_dir / "workspaces",
        "IPYTHONDIR": state_dir / "ipython",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    return {k: str(v) for k, v in dirs.items()}


def start_jupyter(
    root_dir: Path,
    state_dir: Path,
    env: Mapping[str, str] | None = None,
    app: str = "server",
    extra_args: list[str] | None = None,
    timeout: float = 90.0,
    base_path: str = "/",
) -> JupyterServer:
    """Start Jupyter with the labtrack extension and wait until its REST API answers.

    Args:
        root_dir: the folder Jupyter serves (created if missing).
        state_dir: a fresh folder for Jupyter's config/data/runtime dirs and the log.
        env: variables on top of a copy of os.environ stripped of LABTRACK_*/JUPYTER*; pass a
            tracking server fixture's `.env` to point the extension at that server, or
            `{"LABTRACK_HOME": tmp}` to make it start the embedded one.
        app: "server" (`python -m jupyter_server`, fastest) or "lab" (`python -m jupyterlab`).
        extra_args: more command-line flags, e.g. `["--LabtrackApp.default_project=x"]`.
        base_path: Jupyter's `ServerApp.base_url` (e.g. "/user/ada/" as behind JupyterHub).

    Returns:
        The running server; call `.stop()` when done.
    """
    root_dir.mkdir(parents=True, exist_ok=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    full_env = clean_env(env)
    full_env.update(_write_config(state_dir))
    port, token = free_port(), secrets.token_hex(16)
    module = {"server": "jupyter_server", "lab": "jupyterlab"}[app]
    cmd = [
        sys.executable, "-m", module, "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}", f"--ServerApp.base_url={base_path}", *(extra_args or []),
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")  # Jupyter refuses to run as root otherwise
    log_path = state_dir / "jupyter.log"
    log = open(log_path, "ab")
    proc = subprocess.Popen(cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=root_dir)
    log.close()
    server = JupyterServer(port, token, root_dir, state_dir, proc, log_path, full_env, base_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter exited with {proc.returncode}:\n{server.log_text()[-4000:]}")
        try:
            if requests.get(server.url("api/status"), headers=server.headers, timeout=2).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"jupyter did not answer within {timeout}s:\n{server.log_text()[-4000:]}")
