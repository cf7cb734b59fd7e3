"""Track a notebook: snapshot its saved cells into a task's `script`, creating the task if needed.

A task that has ended (completed, failed, stopped, published) is never written to again: Track
then starts the notebook's next run as a new task in the same project with the same name, and a
save leaves the ended task's snapshot as it was. Which task a kernel logs into is decided in the
kernel, at the first cell executed after it is armed (`labtrack.sdk.notebook_run`).

No Tornado here: the handlers read the notebook through the contents manager and call these.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from typing import Any

from labtrack.sdk.notebook_snapshot import snapshot_notebook
from labtrack.server_ext.connection import TrackingApi

TASK_ID_RE = re.compile(r"^[0-9a-f]{32}$")
FALLBACK_PROJECT = "notebooks"
ENDED = ("completed", "failed", "stopped", "published")


class TrackRequestError(ValueError):
    """The browser sent something unusable; `status`/`code` follow the API's error shape."""

    def __init__(self, message: str, status: int = 400, code: str = "bad_request"):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": {}}}


@dataclass
class TrackRequest:
    """A validated `POST /labtrack/notebooks/track` or `/snapshot` body."""

    path: str
    task_id: str | None = None
    project: str | None = None
    name: str | None = None

    @classmethod
    def parse(cls, raw: bytes, need_task_id: bool = False) -> TrackRequest:
        """Validate a JSON body; raise `TrackRequestError` with a message that says what to fix."""
        body = parse_body(raw, ("path", "task_id", "project", "name"))
        path = parse_path(body, "Track")
        values = {field: optional_string(body, field) for field in ("task_id", "project", "name")}
        task_id = values["task_id"]
        if need_task_id and task_id is None:
            raise TrackRequestError("'task_id' is required: track the notebook first.", 422, "invalid")
        return cls(path=path, task_id=task_id, project=values["project"], name=values["name"])


def parse_body(raw: bytes, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object of a request body, holding only `allowed` fields."""
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise TrackRequestError("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise TrackRequestError("The request body must be a JSON object like {\"path\": \"x.ipynb\"}.")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise TrackRequestError(f"Unknown fields {unknown}; allowed: {', '.join(allowed)}.", 422, "invalid")
    return body


def parse_path(body: dict[str, Any], action: str) -> str:
    """The notebook's path (relative to the Jupyter root) from a request body."""
    path = body.get("path")
    if not isinstance(path, str) or not path.strip():
        raise TrackRequestError("'path' (the notebook's path relative to the Jupyter root) is required.", 422, "invalid")
    if not path.endswith(".ipynb"):
        raise TrackRequestError(f"'{path}' is not a notebook: {action} works on .ipynb files.", 422, "invalid")
    return path.strip().lstrip("/")


def optional_string(body: dict[str, Any], field: str) -> str | None:
    """A string field, stripped; None when absent or blank. A `task_id` must look like one."""
    value = body.get(field)
    if value is not None and not isinstance(value, str):
        raise TrackRequestError(f"'{field}' must be a string.", 422, "invalid")
    text = value.strip() if isinstance(value, str) and value.strip() else None
    if field == "task_id" and text is not None and not TASK_ID_RE.match(text):
        raise TrackRequestError(f"'task_id' must be 32 lowercase hex characters, got '{text}'.", 422, "invalid")
    return text


def script_for(path: str, notebook: Any, requirements: str) -> dict[str, Any]:
    """The `script` fields a tracked notebook sets on its task."""
    return {
        "notebook": snapshot_notebook(notebook),
        "notebook_path": path,
        "entry_point": posixpath.basename(path),
        "working_dir": posixpath.dirname(path),
        "argv": [],  # a notebook has none (an attached kernel's capture records ipykernel's own)
        "requirements": requirements,
    }


def notebook_stem(path: str) -> str:
    """`analysis/train model.ipynb` → `train model`."""
    base = posixpath.basename(path)
    return base[: -len(".ipynb")] if base.endswith(".ipynb") else base


def attach_code(task_id: str) -> str:
    """The Python the frontend runs silently in the kernel: it arms the kernel, writing nothing
    (the first cell executed afterwards starts the run; see `labtrack.sdk.notebook_run`)."""
    return f"import labtrack.sdk.notebook_run; labtrack.sdk.notebook_run.track_notebook('{task_id}')"


async def track_notebook(
    api: TrackingApi, request: TrackRequest, notebook: Any, requirements: str, default_project: str
) -> dict[str, Any]:
    """Snapshot the notebook into its task, or into a new task when that one has ended or is gone.

    A task still `created`, `queued` or `in_progress` is reused (pressing Track twice, or while
    the kernel's run goes on); an ended one is left as it is, and the new task keeps its project
    and name (the notebook's next run). Without a task, `project`/`name` or the defaults apply.
    """
    script = script_for(request.path, notebook, requirements)
    task = await api.get_task(request.task_id) if request.task_id else None
    previous = None
    if task is not None and task["status"] in ENDED:
        previous, task = task, None
    if task is not None:
        task = await api.update_task(task["id"], {"script": script})
    else:
        body: dict[str, Any] = {"type": "training", "script": script}
        if previous is not None:
            body.update(name=previous["name"], project_id=previous["project_id"], type=previous["type"])
        else:
            body.update(name=request.name or notebook_stem(request.path),
                        project_name=request.project or default_project or FALLBACK_PROJECT)
        task = await api.create_task(body)
    return {
        "task_id": task["id"],
        "project_id": task.get("project_id"),
        "task": task,
        "previous_task_id": previous["id"] if previous is not None else None,
        "attach_code": attach_code(task["id"]),
    }


async def refresh_snapshot(api: TrackingApi, request: TrackRequest, notebook: Any, requirements: str) -> dict[str, Any]:
    """Replace the task's notebook snapshot with the saved notebook (called on every save).

    An ended task keeps the snapshot of the run it was (`updated` is false): the notebook's next
    run gets a new task, which the kernel announces and the next save snapshots into.
    """
    assert request.task_id is not None
    task = await api.get_task(request.task_id)
    if task is None:
        raise TrackRequestError(f"Task {request.task_id} does not exist (deleted?): press Track again.", 404, "not_found")
    updated = task["status"] not in ENDED
    if updated:
        task = await api.update_task(request.task_id, {"script": script_for(request.path, notebook, requirements)})
    return {"task_id": task["id"], "project_id": task.get("project_id"), "task": task, "updated": updated}
