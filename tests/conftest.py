"""Fixtures shared by every test package: a real tracking server on a loopback port.

The server runs as a separate process (`python -m labtrack server`) so tests can stop it,
kill -9 it and restart it on the same database, exactly as a user's process would see.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

PG_URL_ENV = "LABTRACK_TEST_PG_URL"
# Seconds the session's servers get, after the last test, to finish shutting down.
LEFTOVER_GRACE = float(os.environ.get("LABTRACK_TEST_LEFTOVER_GRACE", "15"))


@pytest.fixture(scope="session", autouse=True)
def suite_leaves_no_process_behind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The process table before and after the session: whatever the tests started is gone.

    Autouse at session scope in the root conftest, so it is set up first and checked last, after
    every other fixture has stopped what it started. Leftovers are stopped, then reported as an
    error (tests/process_check.py says which processes count as the session's).
    """
    from process_check import describe, own_processes, stop_processes, wait_for_exit

    basetemp = tmp_path_factory.getbasetemp()
    before = own_processes(basetemp)
    yield
    left = wait_for_exit(before, basetemp, LEFTOVER_GRACE)
    if left:
        report = "\n".join(describe(proc) for proc in left)
        stop_processes(left)
        pytest.fail(f"the test session left {len(left)} process(es) running (now stopped):\n{report}", pytrace=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PortTaken(RuntimeError):
    """The server could not bind its port: another process took it first."""


@dataclass
class TrackingServer:
    """A `labtrack server` child process bound to 127.0.0.1, restartable on the same data."""

    db_url: str
    artifacts: Path
    home: Path
    port: int = field(default_factory=free_port)
    api_key: str = field(default_factory=lambda: "lt_test_" + secrets.token_hex(16))
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    started_before: bool = False  # a restart keeps its port: clients already hold the URL

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def env(self) -> dict[str, str]:
        """Environment for a client process (SDK script, kernel) that should use this server."""
        env = dict(os.environ)
        env.update(
            LABTRACK_HOME=str(self.home),
            LABTRACK_API_URL=self.url,
            LABTRACK_API_KEY=self.api_key,
        )
        return env

    def start(self, timeout: float = 30.0) -> None:
        try:
            self._start(timeout)
        except PortTaken:
            if self.proc is None or self.started_before:
                raise
            # free_port() closes its socket before the server binds it, so another process (a
            # second pytest-xdist worker) can take the port in between: a first start picks a new one.
            self.port = free_port()
            self._start(timeout)
        self.started_before = True

    def _start(self, timeout: float) -> None:
        env = dict(os.environ, LABTRACK_HOME=str(self.home), LABTRACK_SERVER_BOOTSTRAP_KEY=self.api_key)
        cmd = [
            sys.executable, "-m", "labtrack", "server",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--db", self.db_url, "--artifacts", str(self.artifacts), *self.extra_args,
        ]
        log = open(self.home / "server.log", "ab")
        self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_tail()
                if "address already in use" in tail.lower():
                    raise PortTaken(f"port {self.port} is taken: {tail[-500:]}")
                raise RuntimeError(f"server exited with {self.proc.returncode}: {tail}")
            try:
                if requests.get(f"{self.api}/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer within {timeout}s: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """kill -9: no shutdown hooks run."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, chars: int = 4000) -> str:
        path = self.home / "server.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def _new_postgres_database() -> str:
    """Create a fresh, uniquely named database on the test cluster and return its URL."""
    import psycopg

    admin_url = os.environ[PG_URL_ENV]
    name = "lt_" + secrets.token_hex(6)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def _make_server(tmp_path: Path, backend: str) -> TrackingServer:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    if backend == "postgresql":
        if not os.environ.get(PG_URL_ENV):
            pytest.fail(f"{PG_URL_ENV} is not set: run the suite with `make test`, which starts PostgreSQL")
        db_url = _new_postgres_database()
    else:
        db_url = f"sqlite:///{tmp_path / 'labtrack.db'}"
    return TrackingServer(db_url=db_url, artifacts=tmp_path / "artifacts", home=home)


@pytest.fixture
def tracking_server(tmp_path: Path) -> Iterator[TrackingServer]:
    """A fresh server on SQLite, started."""
    server = _make_server(tmp_path, "sqlite")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def module_tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingServer]:
    """One SQLite server for a whole module, started once (a server start is seconds of CPU).

    Only for modules whose tests each make their own records and read back only those: a module
    opts in by overriding `tracking_server` with this one (its conftest or the module itself).
    """
    server = _make_server(tmp_path_factory.mktemp("module-server"), "sqlite")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_any_tracking_server(request: pytest.FixtureRequest,
                               tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingServer]:
    """`module_tracking_server` once on SQLite and once on PostgreSQL (same opt-in, same rule)."""
    server = _make_server(tmp_path_factory.mktemp(f"module-server-{request.param}"), request.param)
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_tracking_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrackingServer]:
    """A fresh server, once on SQLite and once on PostgreSQL."""
    server = _make_server(tmp_path, request.param)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server_factory(tmp_path: Path):
    """Build (not start) a server for tests that need custom arguments: factory(backend, extra_args)."""
    made: list[TrackingServer] = []

    def factory(backend: str = "sqlite", extra_args: list[str] | None = None) -> TrackingServer:
        sub = tmp_path / f"srv{len(made)}"
        sub.mkdir()
        server = _make_server(sub, backend)
        server.extra_args = list(extra_args or [])
        made.append(server)
        return server

    yield factory
    for server in made:
        server.stop()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server (tests/s3_fixtures.py), started on first use and shared by the session.

    Tests keep apart by bucket and by a random prefix each, so one server serves them all.
    """
    from s3_fixtures import moto_server

    with moto_server(free_port()) as endpoint:
        yield endpoint


@pytest.fixture
def client_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A LABTRACK_HOME of the SDK client's own (staging records, the dataset and model caches under it)."""
    home = tmp_path / "client-home"
    home.mkdir()
    monkeypatch.setenv("LABTRACK_HOME", str(home))
    monkeypatch.delenv("LABTRACK_DATASET_CACHE", raising=False)
    monkeypatch.delenv("LABTRACK_MODEL_CACHE", raising=False)
    return home


@pytest.fixture
def client(tracking_server: TrackingServer, client_home: Path) -> Any:
    """An SDK ApiClient bound to `tracking_server`, with its own LABTRACK_HOME."""
    from labtrack.sdk.client import ApiClient

    return ApiClient(tracking_server.url, tracking_server.api_key)
