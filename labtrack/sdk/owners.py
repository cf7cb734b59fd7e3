"""Which process owns a session folder: its pid plus its start time, so a reused pid never passes for it.

Written into `session.json` by whoever creates the folder; read by the replay code, which leaves
a folder alone while its owner runs and decides, once it is gone, whether it ended properly.
"""

from __future__ import annotations

import os
from typing import Any


def owner_marker(pid: int | None = None) -> dict[str, Any]:
    """Identify a process: its pid and its start time (seconds since the epoch, from boot time)."""
    import psutil

    pid = os.getpid() if pid is None else pid
    return {"pid": pid, "started": psutil.Process(pid).create_time()}


def owner_alive(owner: Any) -> bool:
    """Whether the process recorded in `owner` still runs (a reused pid with another start time does not)."""
    import psutil

    if not isinstance(owner, dict) or not isinstance(owner.get("pid"), int):
        return False
    try:
        proc = psutil.Process(owner["pid"])
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        started = proc.create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True  # cannot tell (e.g. access denied): never touch what may be in use
    # create_time is derived from boot time and clock ticks: equal for the same process up to rounding.
    return abs(started - float(owner.get("started") or 0.0)) < 1.0


def owner_dead(owner: Any) -> bool:
    """Whether `owner` names a process that has ended (False when no owner was recorded: cannot tell)."""
    return isinstance(owner, dict) and isinstance(owner.get("pid"), int) and not owner_alive(owner)
