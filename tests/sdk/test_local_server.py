"""The per-user embedded server, found or started by its clients (labtrack.local_server): start once,
find again, concurrent callers, key in the config."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from labtrack import paths
from labtrack.local_server import ensure_embedded_server, stop_embedded_server


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LABTRACK_HOME", str(tmp_path))
    return tmp_path


def test_ensure_starts_once_and_writes_the_key(home: Path) -> None:
    server = ensure_embedded_server()
    try:
        assert server.started and server.url.startswith("http://127.0.0.1:")
        config = paths.read_config()
        assert config == {"api_url": server.url, "api_key": server.api_key}
        assert stat.S_IMODE(os.stat(paths.config_file()).st_mode) == 0o600
        r = requests.get(f"{server.api}/projects", headers={"Authorization": f"Bearer {server.api_key}"})
        assert r.status_code == 200
        again = ensure_embedded_server()
        assert (again.url, again.pid, again.started) == (server.url, server.pid, False)
        assert (home / "data" / "labtrack.db").exists()
    finally:
        stop_embedded_server(server)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.api}/health", timeout=2)
    restarted = ensure_embedded_server()
    try:
        assert restarted.started and restarted.api_key == server.api_key
    finally:
        stop_embedded_server(restarted)


def test_concurrent_callers_share_one_server(home: Path) -> None:
    code = "from labtrack.local_server import ensure_embedded_server as e; import json; s = e(); print(json.dumps([s.pid, s.started]))"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=dict(os.environ)) for _ in range(3)]
    results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    pids = {pid for pid, _ in results}
    assert len(pids) == 1, results
    assert sum(started for _, started in results) == 1
    state = json.loads((home / "data" / "server.json").read_text())
    from labtrack.local_server import EmbeddedServer

    stop_embedded_server(EmbeddedServer(url=state["url"], api_key=state["api_key"], pid=state["pid"], started=True))


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_data_folder_is_private_whatever_the_umask(home: Path) -> None:
    data = home / "data"
    previous = os.umask(0o022)  # a common default: folders 0755, files 0644
    try:
        server = ensure_embedded_server()
        try:
            assert mode(data) == 0o700
            for name in ("server.log", "server.json", "server.lock"):
                assert mode(data / name) == 0o600, name
        finally:
            stop_embedded_server(server)
        # Made readable by everyone before this rule existed: tightened at the next start.
        os.chmod(data, 0o755)
        os.chmod(data / "server.log", 0o644)
        os.chmod(data / "server.lock", 0o644)
        restarted = ensure_embedded_server()
        stop_embedded_server(restarted)
        assert restarted.started
        assert (mode(data), mode(data / "server.log"), mode(data / "server.lock")) == (0o700, 0o600, 0o600)
    finally:
        os.umask(previous)
