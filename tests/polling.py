"""Waiting on the real thing, always with a deadline and a readable failure: poll until a condition
holds (`wait_for`), or read a child process's next line of output (`read_line`)."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from typing import Any, Callable


def wait_for(predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll until `predicate()` is truthy and return its value; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def read_line(proc: subprocess.Popen, timeout: float = 60, what: str = "a line of output") -> str:
    """The next line the child writes to its stdout (a text pipe).

    A plain `proc.stdout.readline()` blocks for ever when the child hangs; here a child that stays
    silent past `timeout` is killed, and one that ends first fails the test too, each with the
    tail of its stderr (when that is a pipe) so the failure says why.
    """
    assert proc.stdout is not None, "start the process with stdout=subprocess.PIPE"
    lines: queue.Queue[str] = queue.Queue()
    # The reader thread ends by itself once the child is gone (readline then returns "").
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()  # type: ignore[union-attr]
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        proc.kill()
        proc.wait(10)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; killed it. stderr:\n{_stderr_tail(proc)}") from None
    if not line:
        code = proc.wait(10)
        raise AssertionError(f"the process ended (exit {code}) before {what}. stderr:\n{_stderr_tail(proc)}")
    return line


def _stderr_tail(proc: subprocess.Popen, chars: int = 4000) -> str:
    if proc.stderr is None:
        return "(not captured)"
    # Bounded too: a grandchild that inherited the pipe would keep it open after the kill.
    out: queue.Queue[str | bytes] = queue.Queue()
    threading.Thread(target=lambda: out.put(proc.stderr.read()), daemon=True).start()  # type: ignore[union-attr]
    try:
        text = out.get(timeout=5)
    except queue.Empty:
        return "(stderr still open after 5 s)"
    return (text.decode(errors="replace") if isinstance(text, bytes) else text)[-chars:]
