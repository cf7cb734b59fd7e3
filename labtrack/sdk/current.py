"""The process's current task, reachable from modules below `task.py` without importing it.

`task.py` registers the accessor when it is imported; until then there is no current task. The
hooks in `lifecycle.py`, `Logger.current_logger()` and the live-chart widget read it here, each
through the small protocol of what it needs, so no lower module imports the `Task` class.
"""

from __future__ import annotations

from typing import Any, Callable

_accessor: Callable[[], Any] = lambda: None  # noqa: E731


def register(accessor: Callable[[], Any]) -> None:
    """Install the function that returns the current task (called once, by task.py)."""
    global _accessor
    _accessor = accessor


def current_task() -> Any:
    """The task `Task.init` made current in this process, or None."""
    return _accessor()
