"""Run one task's process: its environment, its console piped to the task, stop on request.

The child starts in a session of its own (so a stop reaches everything it started) and dies with
the agent (`PR_SET_PDEATHSIG` on Linux): an agent killed with -9 leaves no orphan holding a GPU,
and the server's worker-lost watchdog ends the task. A stop is SIGTERM to the child's process
group, then SIGKILL after the grace period.
"""

from __future__ import annotations

import codecs
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, Callable

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:
        pass


@dataclass
class ChildResult:
    exit_code: int
    stop_requested: bool  # the agent stopped it (abort or shutdown)
    killed: bool  # it outlived the grace period and got SIGKILL
    seconds: float


class ChildProcess:
    """One child process whose output goes to `write(stream, text)`."""

    def __init__(self, argv: list[str], cwd: str, env: dict[str, str], write: Callable[[str, str], None],
                 stop_grace: float = 10.0):
        self.argv = argv
        self.cwd = cwd
        self.env = env
        self.write = write
        self.stop_grace = stop_grace
        self._stop = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._readers: list[threading.Thread] = []

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        """Start the child (call from the main thread: PDEATHSIG follows the thread that forked)."""
        self._proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                      preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        for pipe, name in ((self._proc.stdout, "stdout"), (self._proc.stderr, "stderr")):
            reader = threading.Thread(target=self._pump, args=(pipe, name), name=f"labtrack-agent-{name}", daemon=True)
            reader.start()
            self._readers.append(reader)

    def _pump(self, pipe: IO[bytes] | None, name: str) -> None:
        if pipe is None:
            return
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        raw = pipe.fileno()
        while True:
            try:
                chunk = os.read(raw, 65536)  # whatever is there: progress bars arrive without a newline
            except OSError:
                break
            if not chunk:
                break
            self.write(name, decoder.decode(chunk))
        self.write(name, decoder.decode(b"", final=True))

    def request_stop(self) -> None:
        """Ask for a stop (any thread): SIGTERM now, SIGKILL after the grace period (in `wait`)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._signal(signal.SIGTERM)

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def _signal(self, sig: int) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        try:
            os.killpg(self._proc.pid, sig)
        except ProcessLookupError:
            pass

    def wait(self) -> ChildResult:
        """Wait for the child to end (enforcing the grace period after a stop) and its output to drain."""
        assert self._proc is not None, "start() first"
        started = time.monotonic()
        killed = False
        stop_at: float | None = None
        while True:
            try:
                code = self._proc.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                pass
            if self._stop.is_set():
                stop_at = stop_at or time.monotonic()
                if not killed and time.monotonic() - stop_at >= self.stop_grace:
                    self._signal(signal.SIGKILL)
                    killed = True
        if self._stop.is_set():
            # Whatever it started in its session goes too (a kernel, a dataloader's workers).
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for reader in self._readers:
            reader.join(10)  # a grandchild holding the pipe open can't keep the agent waiting forever
        return ChildResult(code, self._stop.is_set(), killed, time.monotonic() - started)
