"""Remote runs (ClearML's names): make a task from a file, clone, enqueue, hand a local run to an agent, wait.

`Task` delegates here (`Task.create`, `Task.clone`, `Task.enqueue`, `task.execute_remotely`,
`task.wait`); this module never imports `task.py`: it takes the task as an argument (the small
`RemoteTask` protocol) and the class to build handles with.

What a task must hold for an agent to run it is its `script` (see `script_from_file` and
`notebook_script`): a git checkout (repository, commit, uncommitted diff, entry point), or, for a
file outside git, the file's text in `diff` (ClearML's "literal script"), or a notebook snapshot.

Invariant: a run handed to an agent ends *queued* here. `execute_remotely` decides the status
itself (the task is no longer `_owned`, so neither `close()` nor the exit hooks mark it completed)
and only enqueues once everything the local run reported has been flushed.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence, TypeVar

from labtrack.sdk import capture
from labtrack.sdk.client import ApiClient
from labtrack.sdk.errors import ConfigurationError, LabtrackError, NotFound
from labtrack.sdk.notebook_snapshot import read_snapshot

ENDED_STATUSES = frozenset({"completed", "failed", "stopped", "published"})
DEFAULT_QUEUE = "default"


class TaskWaitTimeout(LabtrackError, TimeoutError):
    """`Task.wait(timeout)` ran out before the task ended; `status` is where it was then."""

    def __init__(self, task_id: str, status: str, timeout: float):
        super().__init__(f"Task {task_id} is still {status} after {timeout:g} s (waiting for it to end).")
        self.task_id = task_id
        self.status = status
        self.timeout = timeout


class RemoteTask(Protocol):
    """What this module needs of a `Task`."""

    _owned: bool
    _closed: bool
    _record: dict[str, Any]

    @property
    def id(self) -> str: ...

    @property
    def client(self) -> ApiClient: ...

    @property
    def offline(self) -> bool: ...

    def close(self, timeout: float | None = None) -> None: ...


T = TypeVar("T")


def running_remotely(task_id: str) -> bool:
    """True when this process is the run of `task_id` an agent started (it sets `LABTRACK_TASK_ID`)."""
    return bool(task_id) and os.environ.get("LABTRACK_TASK_ID") == task_id


# -- what an agent needs: code and packages --------------------------------------------------------

def read_requirements(requirements: str | os.PathLike[str] | Iterable[str] | None) -> str:
    """The frozen package list to store: a list of requirement lines, a requirements.txt path, or
    (None) this Python's installed packages, as `Task.init` records them."""
    if requirements is None:
        return capture.frozen_requirements()
    if isinstance(requirements, (str, os.PathLike)):
        path = Path(requirements)
        if not path.is_file():
            raise ConfigurationError(
                f"requirements={str(requirements)!r} is not a file; pass a requirements.txt path or a list of "
                "requirement lines such as ['torch==2.3.0']."
            )
        return path.read_text()
    lines = [str(line).strip() for line in requirements]
    return "".join(f"{line}\n" for line in lines if line)


def _argv(argv: str | Sequence[str] | None) -> list[str]:
    if argv is None:
        return []
    return shlex.split(argv) if isinstance(argv, str) else [str(a) for a in argv]


def _git_checkout(file: Path, run_from: Path | None) -> dict[str, Any] | None:
    """Repository, branch, commit, uncommitted diff and entry point of a file git tracks in a
    repository with a remote an agent can clone; None otherwise."""
    # `git ls-files --error-unmatch` fails for a file git does not track (and outside a repository).
    if not capture._git(["ls-files", "--error-unmatch", file.name], file.parent):
        return None
    info = capture.capture_script((str(file), file.parent))
    if not info.get("repository"):
        return None  # a repository without a remote: nothing to clone, store the file itself
    root = Path(capture._git(["rev-parse", "--show-toplevel"], file.parent))
    info["working_dir"] = os.path.relpath(run_from or file.parent, root)
    return info


def script_from_file(path: str | os.PathLike[str], argv: str | Sequence[str] | None = None,
                     working_directory: str | None = None, run_from: Path | None = None) -> dict[str, Any]:
    """The `script` fields of a Python file: its git checkout when git tracks it, else its text.

    Args:
        working_directory: where the agent runs it (relative to the repository's root; default:
            the folder `run_from` names, else the file's folder).

    Raises:
        ConfigurationError: the file does not exist.
    """
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise ConfigurationError(f"script={str(path)!r} is not a file.")
    # Otherwise ClearML's literal script: the agent writes `diff` to `entry_point` and runs it.
    info = _git_checkout(file, run_from) or {"repository": "", "branch": "", "commit": "", "diff": file.read_text(),
                                             "entry_point": file.name, "working_dir": "."}
    info["argv"] = _argv(argv)
    if working_directory:
        info["working_dir"] = working_directory
    return info


def notebook_script(path: str | os.PathLike[str], working_directory: str | None = None) -> dict[str, Any]:
    """The `script` fields of a saved notebook: its snapshot, plus its repository when in git.

    Raises:
        ConfigurationError: no such file, or not a notebook.
    """
    file = Path(path).expanduser().resolve()
    if file.suffix != ".ipynb" or not file.is_file():
        raise ConfigurationError(f"notebook={str(path)!r} is not a saved .ipynb file.")
    try:
        snapshot = read_snapshot(file)
    except Exception as exc:  # noqa: BLE001 - bad JSON, or nbformat's own validation errors
        raise ConfigurationError(f"{file} could not be read as a notebook: {exc}") from exc
    info = _git_checkout(file, None) or {"working_dir": "."}
    info.update(notebook=snapshot, notebook_path=str(path), entry_point=file.name, argv=[])
    if working_directory:
        info["working_dir"] = working_directory
    return info


def kernel_notebook_path() -> Path | None:
    """The notebook this kernel runs, as JupyterLab tells it (`JPY_SESSION_NAME`), if saved here."""
    name = os.environ.get("JPY_SESSION_NAME") or ""
    if not name.endswith(".ipynb"):
        return None
    path = Path(name)
    for candidate in (path, Path.cwd() / path, Path.cwd() / path.name):
        if candidate.is_file():
            return candidate
    return None


# -- making, cloning, enqueueing, waiting ----------------------------------------------------------

def create(make: Callable[[ApiClient, dict[str, Any]], T], project_name: str | None, task_name: str | None,
           script: str | os.PathLike[str] | None, notebook: str | os.PathLike[str] | None,
           requirements: str | os.PathLike[str] | Iterable[str] | None, argv: str | Sequence[str] | None,
           working_directory: str | None, task_type: str, tags: Iterable[str] | None,
           client: ApiClient | None) -> T:
    """`Task.create`: a `created` task holding a file's code and packages, not run.

    Args:
        make: builds the `Task` handle from the client and the server's record.
        script / notebook: the file (exactly one); see `script_from_file` and `notebook_script`.
        requirements: see `read_requirements`.
        argv: the script's arguments (a list, or one string split as a shell would).
        working_directory: where the agent runs it (relative to the repository root).

    Raises:
        ConfigurationError: no file or both, a missing requirements file, argv for a notebook.
    """
    if (script is None) == (notebook is None):
        raise ConfigurationError("Task.create needs exactly one of script=<path.py> or notebook=<path.ipynb>.")
    if notebook is not None:
        if argv:
            raise ConfigurationError("argv applies to scripts; a notebook takes parameters (set_parameters).")
        info = notebook_script(notebook, working_directory)
    else:
        assert script is not None
        info = script_from_file(script, argv, working_directory)
    info["requirements"] = read_requirements(requirements)
    source = Path(notebook if notebook is not None else script)  # type: ignore[arg-type]
    body = {"name": task_name or source.stem, "project_name": project_name or "default", "type": task_type,
            "tags": list(tags or []), "script": info}
    client = client or ApiClient.from_environment()
    return make(client, client.post("/tasks", json=body))


def clone(client: ApiClient, source_id: str, name: str | None, parent: str | None) -> dict[str, Any]:
    """`Task.clone`: a `created` copy (code, parameters, configuration) to edit and enqueue."""
    try:
        if parent is None:
            return client.post(f"/tasks/{source_id}/clone", json={"name": name} if name else {})
        # Another parent than the source: the server's clone always names the source, so copy here.
        source = client.get(f"/tasks/{source_id}")
    except NotFound as exc:
        raise LabtrackError(f"Task {source_id} does not exist on {client.url}; nothing to clone.") from exc
    body = {key: source[key] for key in ("project_id", "type", "tags", "comment", "hyperparams", "configuration")}
    body.update(name=name or source["name"], parent_id=parent,
                script={k: v for k, v in (source.get("script") or {}).items() if v not in (None, "", [])})
    return client.post("/tasks", json=body)


def enqueue(client: ApiClient, task_id: str, queue_name: str = DEFAULT_QUEUE, priority: int = 0) -> dict[str, Any]:
    """Put a created, stopped or failed task in a queue (by name or id); returns the task's record.

    The task's own action route, not `POST /queues/{q}/entries`: that one reads the new entry back
    after enqueueing, and answers 404 when a long-polling agent has popped the task in between.
    """
    return client.post(f"/tasks/{task_id}/enqueue", json={"queue": queue_name, "priority": int(priority)})


def wait(client: ApiClient, task_id: str, timeout: float | None = None, poll: float = 1.0) -> str:
    """Poll until the task has ended and return that status.

    Raises:
        TaskWaitTimeout: still not ended after `timeout` seconds (it names the status then).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    poll = max(0.05, float(poll))
    while True:
        status = client.get(f"/tasks/{task_id}")["status"]
        if status in ENDED_STATUSES:
            return status
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TaskWaitTimeout(task_id, status, float(timeout or 0))
            time.sleep(min(poll, left))
        else:
            time.sleep(poll)


# -- handing the local run to an agent --------------------------------------------------------------

def execute_remotely(task: RemoteTask, queue_name: str = DEFAULT_QUEUE, exit_process: bool = True,
                     clone_task: bool = False, priority: int = 0) -> str | None:
    """Stop the local run here and enqueue it for an agent (see `Task.execute_remotely`).

    Returns the id of the task enqueued, or None when this process is the remote run already.
    """
    if running_remotely(task.id):
        return None  # this is the agent's run: carry on
    if task.offline:
        raise LabtrackError("execute_remotely needs a server: this task is offline.")
    client = task.client
    in_kernel = capture.in_notebook_kernel()
    script = _local_code(task, in_kernel)  # before anything changes: a missing notebook stops here
    if clone_task:
        # The local run goes on; a copy holding its code and parameters goes to the queue.
        flush = getattr(task, "flush", None)
        if flush is not None:
            flush(wait=True)
        script["requirements"] = _requirements(client.get(f"/tasks/{task.id}"))
        copy = clone(client, task.id, None, None)
        client.patch(f"/tasks/{copy['id']}", json={"script": script})
        enqueue(client, copy["id"], queue_name, priority)
        return copy["id"]
    # This process no longer decides how the task ends: close() and the exit hooks leave it be.
    task._owned = False
    task.close()  # flushes, and waits for Task.init's code and package capture to land
    record = client.get(f"/tasks/{task.id}")
    script["requirements"] = _requirements(record)
    if record["status"] == "in_progress":  # else closed or ended before this line
        client.post(f"/tasks/{task.id}/stop", json={"force": True, "message": "sent to an agent"})
    # What the local run reported before this line belongs to no run (ClearML resets too).
    client.post(f"/tasks/{task.id}/reset")
    client.patch(f"/tasks/{task.id}", json={"script": script})
    enqueue(client, task.id, queue_name, priority)
    print(f"labtrack: task {task.id} enqueued in queue {queue_name!r}; an agent runs it from here.",
          file=sys.stderr, flush=True)
    if exit_process and not in_kernel:
        raise SystemExit(0)  # finally blocks run; atexit finds no current task to end
    return task.id


def _requirements(record: dict[str, Any]) -> str:
    """The package list `Task.init` recorded for this process (computed here when it was switched off)."""
    return (record.get("script") or {}).get("requirements") or capture.frozen_requirements()


def _local_code(task: RemoteTask, in_kernel: bool) -> dict[str, Any]:
    """What the agent runs: this kernel's saved notebook, or this process's script (packages apart)."""
    if in_kernel:
        path = kernel_notebook_path()
        if path is not None:
            info = notebook_script(path)
        else:
            stored = (task.client.get(f"/tasks/{task.id}").get("script") or {})
            if not stored.get("notebook"):
                raise ConfigurationError(
                    "execute_remotely() could not find this kernel's notebook: save it in JupyterLab "
                    "(JPY_SESSION_NAME names it) or press Track, then run the cell again."
                )
            info = {key: stored[key] for key in ("notebook", "notebook_path", "entry_point", "working_dir")
                    if stored.get(key) is not None}
            info["argv"] = []
    else:
        entry, _ = capture.entry_point()
        if not entry:
            raise ConfigurationError("execute_remotely() needs a script (python file.py) or a notebook kernel.")
        info = script_from_file(entry, sys.argv[1:], run_from=Path.cwd())
    return info


__all__ = ["DEFAULT_QUEUE", "ENDED_STATUSES", "TaskWaitTimeout", "create", "clone", "enqueue", "execute_remotely",
           "kernel_notebook_path", "notebook_script", "read_requirements", "running_remotely", "script_from_file",
           "wait"]
