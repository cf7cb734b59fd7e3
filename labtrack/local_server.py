"""The per-user embedded server, seen from its clients: find a healthy one or start one, detached.

`ensure_embedded_server()` is what the SDK and the Jupyter extension call when nothing else is
configured. Finding and starting the server is client-side work: this module imports nothing
from `labtrack.server`. It makes the key (`secrets.token_urlsafe`) and hands it to the server
process in `LABTRACK_SERVER_BOOTSTRAP_KEY`, which the server registers as a key as it starts.
State lives in `data_dir()/server.json`: url, pid and the key; the key is also written to the
user's config file so every client finds it.

Experiment data is private: the data folder is made 0700 and every file created here (state,
lock, the server's log) 0600, whatever the caller's umask; the server process sets its own umask
for what it writes.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from labtrack import paths

#: The server process reads its first key from here (labtrack.server.settings.BOOTSTRAP_KEY_ENV).
BOOTSTRAP_KEY_ENV = "LABTRACK_SERVER_BOOTSTRAP_KEY"
#: Keys look alike whoever makes them: the server's own `labtrack keys create` uses this prefix too.
KEY_PREFIX = "lt_"
STATE_FILE = "server.json"
LOCK_FILE = "server.lock"
LOG_FILE = "server.log"


@dataclass
class EmbeddedServer:
    """A running embedded server: where it is, the key it accepts, and whether we started it."""

    url: str
    api_key: str
    pid: int
    started: bool

    @property
    def api(self) -> str:
        """The API base URL (`…/api/v1`)."""
        return f"{self.url}/api/v1"


def new_key() -> str:
    """A fresh random API key for a new embedded server."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _private_data_dir() -> Path:
    """The data folder, created if needed and readable by its owner only (0700, also when older)."""
    path = paths.data_dir()
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _open_private(path: Path, flags: int) -> int:
    """A file descriptor on `path`, created if needed, 0600 (also a file made before this rule)."""
    fd = os.open(path, flags | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def _state_path() -> Path:
    return paths.data_dir() / STATE_FILE


def _read_state() -> dict:
    try:
        return json.loads(_state_path().read_text())
    except (OSError, ValueError):
        return {}


def _write_state(state: dict) -> None:
    path = _private_data_dir() / STATE_FILE
    tmp = path.with_suffix(".tmp")
    with os.fdopen(_open_private(tmp, os.O_WRONLY | os.O_TRUNC), "w") as fh:
        json.dump(state, fh)
    os.replace(tmp, path)


@contextmanager
def _locked(timeout: float) -> Iterator[None]:
    """An exclusive file lock, so two callers never start two servers."""
    path = _private_data_dir() / LOCK_FILE
    with os.fdopen(_open_private(path, os.O_RDWR), "r+") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"another process holds {path} for more than {timeout:.0f}s") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _healthy(url: str, api_key: str, timeout: float = 2.0) -> bool:
    """Whether a labtrack server answers at `url` and accepts `api_key`."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/api/v1/health", timeout=timeout) as resp:
            if resp.status != 200 or json.loads(resp.read()).get("status") != "ok":
                return False
        request = urllib.request.Request(f"{url}/api/v1/projects?limit=1", headers={"Authorization": f"Bearer {api_key}"})
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status == 200
    except (OSError, ValueError, urllib.error.URLError):
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(api_key: str, timeout: float) -> EmbeddedServer:
    data = _private_data_dir()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, **{BOOTSTRAP_KEY_ENV: api_key})
    cmd = [
        sys.executable, "-m", "labtrack", "server", "--host", "127.0.0.1", "--port", str(port),
        "--db", f"sqlite:///{data / 'labtrack.db'}", "--artifacts", str(data / "artifacts"),
    ]
    with os.fdopen(_open_private(data / LOG_FILE, os.O_WRONLY | os.O_APPEND), "ab") as log:
        proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the embedded labtrack server exited with {proc.returncode}; see {data / LOG_FILE}")
        if _healthy(url, api_key, timeout=1.0):
            return EmbeddedServer(url=url, api_key=api_key, pid=proc.pid, started=True)
        time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"the embedded labtrack server did not answer within {timeout:.0f}s; see {data / LOG_FILE}")


def configured_server() -> tuple[str, str] | None:
    """The `(api_url, api_key)` of the user's config file, or None when there is none to use.

    The embedded server records its address in the config file too (so other tools find it);
    once it has stopped, that address is stale and None tells the caller to start it again
    with `ensure_embedded_server()`. Any other configured address is returned as it is.
    """
    config = paths.read_config()
    url, key = str(config.get("api_url") or ""), str(config.get("api_key") or "")
    if not url:
        return None
    if url == _read_state().get("url") and not _healthy(url, key):
        return None
    return url, key


def find_embedded_server() -> EmbeddedServer | None:
    """The user's embedded server if it runs and answers; None otherwise (this never starts one)."""
    state = _read_state()
    url, key, pid = state.get("url"), state.get("api_key"), state.get("pid")
    if url and key and pid and _pid_alive(int(pid)) and _healthy(url, key):
        return EmbeddedServer(url=url, api_key=key, pid=int(pid), started=False)
    return None


def ensure_embedded_server(timeout: float = 60.0) -> EmbeddedServer:
    """Find the user's healthy embedded server or start one (detached); returns where it is and its key.

    Raises:
        RuntimeError: the server could not be started (the message names its log file).
        TimeoutError: another process held the start-up lock for longer than `timeout`.
    """
    with _locked(timeout):
        found = find_embedded_server()
        if found is not None:
            server = found
        else:
            # Keep the key across restarts: the database already accepts it.
            server = _start(_read_state().get("api_key") or new_key(), timeout)
            _write_state({"url": server.url, "api_key": server.api_key, "pid": server.pid})
        config = paths.read_config()
        if config.get("api_url") != server.url or config.get("api_key") != server.api_key:
            paths.write_config({"api_url": server.url, "api_key": server.api_key})
        return server


def stop_embedded_server(server: EmbeddedServer, timeout: float = 15.0) -> None:
    """Stop an embedded server this process started (does nothing when `started` is false)."""
    if not server.started:
        return
    try:
        os.kill(server.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while _pid_alive(server.pid) and time.monotonic() < deadline:
        try:
            # Reap it if it is our child, so it does not linger as a zombie.
            if os.waitpid(server.pid, os.WNOHANG)[0] == server.pid:
                break
        except ChildProcessError:
            pass
        time.sleep(0.05)
    else:
        if _pid_alive(server.pid):
            os.kill(server.pid, signal.SIGKILL)
    state = _read_state()
    if state.get("pid") == server.pid:
        # Keep the key (the database accepts it) and the last address, by which `configured_server`
        # knows the config file's copy of it as stale; without a pid nobody takes it as running.
        _write_state({"api_key": state.get("api_key", server.api_key), "url": server.url})
