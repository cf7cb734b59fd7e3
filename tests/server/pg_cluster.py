"""A throwaway PostgreSQL cluster a test owns: its own data folder and port, so the test may stop,
kill and restart it without touching the suite's shared cluster (scripts/postgres.sh does the same
steps for that one). PostgreSQL refuses to run as root, so as root the cluster belongs to `postgres`."""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path



def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: [int(x) for x in Path(p).parent.name.split(".") if x.isdigit()])
    if not found:
        raise AssertionError("PostgreSQL binaries are missing: run scripts/postgres.sh start once (it installs them)")
    return Path(found[-1])


class PgCluster:
    """initdb, start, stop and restart one cluster on 127.0.0.1:<free port>."""

    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.port = _free_port()
        # Not under pytest's tmp_path: that is root's 0700 folder, which `postgres` can't enter.
        self.data = Path(tempfile.mkdtemp(prefix="labtrack-outage-pg-", dir="/var/tmp"))
        if os.getuid() == 0:
            shutil.chown(self.data, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        cmd = " ".join(shlex.quote(a) for a in (str(self.bin / tool), *args))
        argv = ["su", "postgres", "-s", "/bin/sh", "-c", cmd] if os.getuid() == 0 else ["sh", "-c", cmd]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{tool} failed: {result.stdout}{result.stderr}{self.log_tail()}"

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k /tmp -c fsync=off -c max_connections=100"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-w", "-t", "60",
                  "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends sessions and shuts down cleanly; `immediate` is like a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart_after(self, seconds: float, mode: str = "fast") -> float:
        """Stop, stay down for `seconds`, start again; returns how long it was unreachable."""
        began = time.monotonic()
        self.stop(mode)
        time.sleep(seconds)
        self.start()
        return time.monotonic() - began

    def log_tail(self, chars: int = 2000) -> str:
        path = self.data / "server.log"
        try:
            return path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def destroy(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        except AssertionError:
            pass  # already stopped
        shutil.rmtree(self.data, ignore_errors=True)
