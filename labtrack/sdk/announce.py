"""The one line `Task.init` prints: which task, in which project, and where to see it.

As ClearML and W&B do, so a script that quietly found or started a tracking server still tells
its user where the run went. One line, written before the console capture starts, so it never lands
in the task's own console log: on stderr in a script (its stdout may be data piped elsewhere), on
stdout in a notebook (where stderr is shown as an error). Silenced by `Task.init(quiet=True)` or
`LABTRACK_QUIET=1`. Where to see it:

- in a notebook kernel: the labtrack sidebar of the JupyterLab it runs in;
- in a script while a JupyterLab of this user runs: that JupyterLab's URL (its labtrack sidebar);
- otherwise: `labtrack lab`, and the server's address;
- offline: the session folder and `labtrack sync`.

This module knows nothing of `Task`: the caller hands it plain values.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TextIO

QUIET_ENV = "LABTRACK_QUIET"

__all__ = ["QUIET_ENV", "announce_task", "is_quiet", "running_jupyterlab_url", "task_line"]


def is_quiet(quiet: bool | None) -> bool:
    """The explicit argument wins; otherwise LABTRACK_QUIET (1/true/yes) silences the line."""
    if quiet is not None:
        return quiet
    return os.environ.get(QUIET_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def running_jupyterlab_url() -> str | None:
    """The `/lab` URL of a Jupyter server this user runs now (from Jupyter's runtime files), if any.

    Reads files only (no request, no jupyter_server import), so it costs Task.init nothing.
    """
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        runtime = Path(jupyter_runtime_dir())
        candidates = sorted(runtime.glob("jpserver-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    except (ImportError, OSError):
        return None
    for path in candidates:
        try:
            info = json.loads(path.read_text())
            if _alive(int(info["pid"])):
                return str(info["url"]).rstrip("/") + "/lab"
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def task_line(task_id: str, name: str, project: str, *, api_url: str | None, offline_folder: Path | None,
              in_kernel: bool, lab_url: str | None) -> str:
    """The announcement, without printing it."""
    head = f'labtrack: task "{name}" in project "{project}" (id {task_id[:8]})'
    if offline_folder is not None:
        return f"{head}, offline in {offline_folder}; upload it with `labtrack sync {offline_folder}`"
    if in_kernel:
        return f"{head}: see it in JupyterLab's labtrack sidebar"
    if lab_url:
        return f"{head} on {api_url}: see it in the labtrack sidebar at {lab_url}"
    return f"{head} on {api_url}: see it with `labtrack lab` (labtrack sidebar); `labtrack status` says more"


def announce_task(task_id: str, name: str, project: str, *, api_url: str | None, offline_folder: Path | None,
                  in_kernel: bool, quiet: bool | None = None, stream: TextIO | None = None) -> None:
    """Print the task's line unless silenced; never raises (a message must not break a run)."""
    if is_quiet(quiet):
        return
    try:
        lab_url = None if in_kernel or offline_folder is not None else running_jupyterlab_url()
        line = task_line(task_id, name, project, api_url=api_url, offline_folder=offline_folder,
                         in_kernel=in_kernel, lab_url=lab_url)
        print(line, file=stream or (sys.stdout if in_kernel else sys.stderr), flush=True)
    except Exception:  # noqa: BLE001 - an unprintable stream or odd name must not fail Task.init
        pass
