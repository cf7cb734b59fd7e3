"""One run per execution of a tracked notebook (the JupyterLab Track button), one project per notebook.

The lab extension arms the kernel with the notebook's newest task (`track_notebook(task_id)`,
run silently at Track, at kernel start and restart, and when the page is reloaded). Arming
writes nothing. An *execution* of the notebook is a kernel session:

- the first cell executed after arming starts the run: the tracked task itself when it has never
  run (status `created`, as Track leaves it), otherwise a new task in the same project with the
  same name (the server numbers same-named runs) and the notebook snapshot copied over;
- once that run has ended (`task.close()`, an abort from the UI, ...) the next executed cell starts
  a new run the same way, and a restarted kernel is a new session, so its first cell does too;
- `Task.init(project_name, task_name)` in the notebook adopts the run, moving it to that project
  and name, instead of ending it and starting another; a second `Task.init` in the same run ends
  it and starts the next run, as an untracked notebook's second `Task.init` would.

Invariant: nothing here writes to a task that has ended; a run only ever starts from a `created`
task or a new one. Each run that starts is announced to the lab extension over the comm target
`labtrack.notebook_run`, so the notebook's metadata always names the newest run.

How a run ends (stopped, failed or completed by the last executed cell) is `Task`'s business
(`lifecycle.py` feeds it every cell's outcome). An untracked notebook never imports this
module, and `Task.init` there creates tasks as it does in a script.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from labtrack.sdk import lifecycle
from labtrack.sdk.client import ApiClient
from labtrack.sdk.errors import ConfigurationError, NotFound
from labtrack.sdk.notices import warn
from labtrack.sdk.task import Task

COMM_TARGET = "labtrack.notebook_run"
FALLBACK_PROJECT = "notebooks"  # the server extension's default project, for a task that is gone
_TASK_ID = re.compile(r"[0-9a-f]{32}")
# The notebook fields of a task's `script` that a new run of the same notebook carries over.
_SCRIPT_KEYS = ("notebook", "notebook_path", "entry_point", "working_dir", "argv", "requirements")


@dataclass
class _Tracked:
    """This kernel's tracked notebook."""

    task_id: str  # the notebook's newest task: what metadata.labtrack.task_id should name
    known: set[str] = field(default_factory=set)  # every task this kernel armed or ran for it
    run: Task | None = None  # the run this kernel session logs into
    adopted: bool = False  # a Task.init in the notebook has claimed `run`

    def live_run(self) -> Task | None:
        run = self.run
        return run if run is not None and not run._closed and run.id == self.task_id else None


_state: _Tracked | None = None
# Task.init's own lock: Task.init calls `_adopt` holding it, and a run starts through Task.init.
_lock = Task._init_lock


def track_notebook(task_id: str) -> None:
    """Arm this kernel: cells executed from now on log into runs of the notebook of `task_id`.

    Idempotent. Arming again with a task this kernel already ran for the notebook changes
    nothing (and re-announces the newest run, in case the page missed it); another task id (Track
    made a new one after the last run ended) becomes the task the next run starts from.
    """
    global _state
    if not isinstance(task_id, str) or not _TASK_ID.fullmatch(task_id):
        raise ConfigurationError(f"track_notebook() needs a 32-character task id, got {task_id!r}")
    with _lock:
        if _state is None:
            _install_hooks()
            _state = _Tracked(task_id, {task_id})
        elif task_id not in _state.known:
            _state.task_id = task_id
            _state.known.add(task_id)
        elif task_id != _state.task_id and _state.run is not None:
            _announce(_state.run, previous=None)


def tracked_task_id() -> str | None:
    """The newest task of this kernel's tracked notebook (None when the notebook is not tracked)."""
    return _state.task_id if _state is not None else None


def _install_hooks() -> None:
    from IPython import get_ipython

    lifecycle.install()  # its cell hooks first: the cell-running flag covers the first cell too
    get_ipython().events.register("pre_run_cell", _pre_run_cell)
    Task._notebook_init = _adopt


def _pre_run_cell(info: Any = None) -> None:
    try:
        _ensure_run()
    except Exception as exc:  # a tracking problem must never stop the user's cell
        warn(f"labtrack: this cell runs untracked: could not start the notebook's run ({exc})")


def _ensure_run() -> Task | None:
    """The live run of the notebook, started now if there is none (see the module docstring)."""
    with _lock:
        state = _state
        if state is None:
            return None
        run = state.live_run()
        if run is not None:
            return run
        chosen = Task.current_task()
        if chosen is not None and not chosen._closed and chosen.id not in state.known:
            return None  # the notebook attached to a task of its own choosing: leave it be
        client = ApiClient.from_environment()
        newest = _get(client, state.task_id)
        if newest is not None and newest["status"] == "created":
            return _start(state, newest["id"], adopted=False, previous=None)
        record = _create_run(client, newest, project_name=None, name=None)
        return _start(state, record["id"], adopted=False, previous=state.task_id)


def _adopt(project_name: str | None, task_name: str | None, tags: Iterable[str] | None) -> Task | None:
    """`Task.init` in a tracked notebook: the run takes the project and name asked for."""
    with _lock:
        state = _state
        if state is None:
            return None
        run = state.live_run()
        if run is not None and state.adopted:
            # A second Task.init in this run: it ends, and the next run starts here, named as asked.
            previous = run.id
            run.close()
            client = ApiClient.from_environment()
            record = _create_run(client, _get(client, previous), project_name, task_name)
            run = _start(state, record["id"], adopted=True, previous=previous)
        else:
            run = run or _ensure_run()
            if run is None:
                return None
            state.adopted = True
            moved = bool(project_name) and project_name != run.project
            renamed = bool(task_name) and task_name != run.name
            if moved:
                run.move_to_project(str(project_name))
            if renamed:
                run.set_name(str(task_name))
            if moved or renamed:
                _announce(run, previous=None)
        if tags:
            run.add_tags(tags)
        return run


def _get(client: ApiClient, task_id: str) -> dict[str, Any] | None:
    try:
        return client.get(f"/tasks/{task_id}")
    except NotFound:
        return None  # deleted on the server (or tracked against another one): start afresh


def _create_run(client: ApiClient, previous: dict[str, Any] | None, project_name: str | None,
                name: str | None) -> dict[str, Any]:
    """A new `created` task for the next run of the notebook of `previous` (None: the task is gone)."""
    body: dict[str, Any] = {"name": name or (previous or {}).get("name") or _notebook_stem(),
                            "type": (previous or {}).get("type") or "training"}
    if project_name:
        body["project_name"] = project_name
    elif previous is not None:
        body["project_id"] = previous["project_id"]
    else:
        body["project_name"] = FALLBACK_PROJECT
    script = (previous or {}).get("script") or {}
    carried = {key: script[key] for key in _SCRIPT_KEYS if script.get(key)}
    if carried:
        body["script"] = carried
    return client.post("/tasks", json=body)


def _start(state: _Tracked, task_id: str, adopted: bool, previous: str | None) -> Task:
    """Attach this kernel to `task_id` (which starts it) and announce it as the notebook's newest run."""
    run = Task.init(continue_last_task=task_id)
    state.run, state.adopted, state.task_id = run, adopted, task_id
    state.known.add(task_id)
    _announce(run, previous)
    return run


def _announce(run: Task, previous: str | None) -> None:
    """Tell the lab extension which task the notebook's metadata should name now."""
    data = {"task_id": run.id, "project_id": run._record.get("project_id"), "project_name": run.project,
            "name": run.name, "previous_task_id": previous}
    try:
        from comm import create_comm

        create_comm(target_name=COMM_TARGET, data=data).close()
    except Exception as exc:  # no frontend listening is fine (e.g. nbclient); the run goes on
        warn(f"labtrack: could not tell JupyterLab about run {run.id} ({exc})")


def _notebook_stem() -> str:
    """The notebook's file name without `.ipynb` (JupyterLab tells the kernel its session path)."""
    path = os.environ.get("JPY_SESSION_NAME") or ""
    base = posixpath.basename(path)
    return base[: -len(".ipynb")] if base.endswith(".ipynb") else (base or "notebook")
