"""Messages for a person, on the process's real stderr: the one place the SDK's threads report to.

The real stderr (`sys.__stderr__`) is used, not the teed `sys.stderr`, so a notice never feeds
back into the task's own console capture. `warn_once` keeps a repeated problem (the same bad
name reported a million times) to one line.
"""

from __future__ import annotations

import sys
import threading

_MAX_REMEMBERED = 10_000  # distinct keys remembered by warn_once; beyond it, repeats may print again
_seen: set[str] = set()
_seen_lock = threading.Lock()


def warn(message: str) -> None:
    """Write one line for a person on the real stderr; never raises."""
    stream = getattr(sys, "__stderr__", None) or sys.stderr
    try:
        stream.write(message + "\n")
        stream.flush()
    except Exception:
        pass


def warn_once(key: str, message: str) -> bool:
    """`warn(message)` the first time `key` is seen in this process; True when it printed."""
    with _seen_lock:
        if key in _seen:
            return False
        if len(_seen) >= _MAX_REMEMBERED:
            _seen.clear()
        _seen.add(key)
    warn(message)
    return True
