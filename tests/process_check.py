"""What a test session leaves running: the process table before and after the suite.

A process is the session's own when it descends from the pytest process, or when its command
line, environment or working folder names the session's base temp folder: the per-user embedded
server is started detached (a new session, reparented to init), so it is nobody's child, but the
tests give it a LABTRACK_HOME under the base temp folder. Processes of other test runs on the
machine have another base temp folder and are never counted, so two checkouts (or two helpers)
can run tests at the same time.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil

__all__ = ["own_processes", "wait_for_exit", "stop_processes", "describe"]

Key = tuple[int, float]  # (pid, create time): a pid alone may be reused


def _names_folder(proc: psutil.Process, folder: str) -> bool:
    try:
        if any(folder in arg for arg in proc.cmdline()):
            return True
        if any(folder in value for value in proc.environ().values()):
            return True
        return (proc.cwd() + os.sep).startswith(folder)
    except (psutil.Error, OSError):
        return False  # gone, or not ours to read


def own_processes(basetemp: Path) -> dict[Key, psutil.Process]:
    """The live processes of this session (not zombies, not this process), by (pid, create time)."""
    me = psutil.Process()
    folder = str(basetemp.resolve()) + os.sep
    found: dict[Key, psutil.Process] = {}
    try:
        descendants = set(me.children(recursive=True))
    except psutil.Error:
        descendants = set()
    for proc in psutil.process_iter():
        if proc.pid == me.pid:
            continue
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue  # already exited; only its parent's wait is missing
            if proc in descendants or _names_folder(proc, folder):
                found[(proc.pid, proc.create_time())] = proc
        except psutil.Error:
            continue
    return found


def wait_for_exit(before: dict[Key, psutil.Process], basetemp: Path, grace: float) -> list[psutil.Process]:
    """The session's processes that were not there `before` and still run after `grace` seconds.

    The grace covers servers that shut down asynchronously after their test sent SIGTERM.
    """
    deadline = time.monotonic() + grace
    while True:
        left = [proc for key, proc in own_processes(basetemp).items() if key not in before]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.2)


def describe(proc: psutil.Process) -> str:
    try:
        return f"pid {proc.pid}: {' '.join(proc.cmdline())[:200]}"
    except psutil.Error:
        return f"pid {proc.pid}: (gone)"


def stop_processes(procs: list[psutil.Process], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL what is still there after `timeout` seconds."""
    for proc in procs:
        try:
            proc.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=timeout)
