"""Run remotely: the saved notebook, with its kernel's packages, as a new task in an agent's queue.

The task is shaped as `Track` shapes a notebook's task (`notebooks.script_for`: the snapshot an
agent materialises and runs cell by cell). Parameters start from the notebook's tracked task (its
connected hyperparameters, each keeping its type), with the user's edits applied; the agent
injects them after the cell tagged `parameters`.

Invariant: a task made here ends up in the queue or is deleted again, so a failed Run remotely
never leaves a stray `created` task behind. Nothing is created before the request, the queue and
the parameters have been checked.

No Tornado here: the handler reads the notebook and the package list and calls `run_remotely`.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from labtrack.sdk.params import decode_value, encode_value
from labtrack.server_ext.connection import TrackingApi, TrackingServerError
from labtrack.server_ext.notebooks import (
    FALLBACK_PROJECT, TrackRequestError, notebook_stem, optional_string, parse_body, parse_path, script_for,
)

QUEUE_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # the server's queue names (and 32-hex ids)
MAX_PARAMETERS = 1000
DEFAULT_SECTION = "General"  # where `task.connect(dict)` puts a notebook's parameters
# Types whose text must parse as the type says; other types keep whatever text the user typed.
_CHECKED_TYPES = {"int": int, "float": float, "list": list, "dict": dict, "tuple": tuple}
_BOOL_WORDS = {"true", "false", "1", "0", "yes", "no"}


@dataclass
class RunRemotelyRequest:
    """A validated `POST /labtrack/notebooks/run-remotely` body."""

    path: str
    queue: str
    parameters: dict[str, Any] = field(default_factory=dict)
    task_id: str | None = None  # the notebook's tracked task: where parameters, project and name start from
    project: str | None = None
    name: str | None = None

    @classmethod
    def parse(cls, raw: bytes) -> RunRemotelyRequest:
        """Validate a JSON body; raise `TrackRequestError` with a message that says what to fix."""
        body = parse_body(raw, ("path", "queue", "parameters", "task_id", "project", "name"))
        path = parse_path(body, "Run remotely")
        queue = optional_string(body, "queue")
        if queue is None:
            raise TrackRequestError("'queue' is required: the name of the queue an agent pulls (e.g. 'default').",
                                    422, "invalid")
        if not QUEUE_NAME_RE.match(queue) or queue in (".", ".."):
            raise TrackRequestError(f"'{queue}' is not a queue name: 1-64 letters, digits, '_', '.' or '-'.",
                                    422, "invalid")
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise TrackRequestError("'parameters' must be an object like {\"General/lr\": \"0.01\"}.", 422, "invalid")
        if len(parameters) > MAX_PARAMETERS:
            raise TrackRequestError(f"At most {MAX_PARAMETERS} parameters can be set at once.", 422, "invalid")
        for key, value in parameters.items():
            section, name = split_key(key)
            if not section or not name:
                raise TrackRequestError(f"Parameter '{key}' needs a name, as 'Section/name' or 'name'.", 422, "invalid")
            if not isinstance(value, (str, int, float)):  # bool is an int
                raise TrackRequestError(f"Parameter '{key}' must be text, a number or true/false.", 422, "invalid")
        return cls(path=path, queue=queue, parameters=dict(parameters), task_id=optional_string(body, "task_id"),
                   project=optional_string(body, "project"), name=optional_string(body, "name"))


def split_key(key: str) -> tuple[str, str]:
    """`"Args/lr"` → `("Args", "lr")`; a bare `"lr"` is in `General` (ClearML's flat names)."""
    section, slash, name = key.strip().partition("/")
    return (section.strip(), name.strip()) if slash else (DEFAULT_SECTION, section.strip())


def typed_entry(key: str, value: str | int | float | bool, existing: dict[str, Any] | None) -> dict[str, str]:
    """The stored `{value, type, description}` of an edited parameter.

    A parameter the task already has keeps its type: the text must parse as that type (so the
    remote run gets an int where the notebook connected an int). A new one takes the JSON value's
    type, text being a string.

    Raises:
        TrackRequestError: the text does not parse as the parameter's type.
    """
    text = value if isinstance(value, str) else encode_value(value)["value"]
    if existing is None:
        entry = encode_value(value) if not isinstance(value, str) else {"value": value, "type": "str"}
        return {**entry, "description": ""}
    type_name = str(existing.get("type") or "str")
    description = str(existing.get("description") or "")
    if type_name == "bool":
        if text.strip().lower() not in _BOOL_WORDS:
            raise _bad_value(key, text, "true or false")
        return {**encode_value(decode_value(text, "bool")), "description": description}
    expected = _CHECKED_TYPES.get(type_name)
    if type_name == "NoneType" and text != "None":
        type_name = "str"  # a value typed where the notebook connected None
    if expected is None:  # str, NoneType and types labtrack stores as text: the text is the value
        return {"value": text, "type": type_name, "description": description}
    decoded = decode_value(text, type_name)  # gives the text back when it does not parse
    if not isinstance(decoded, expected) or (expected is int and isinstance(decoded, bool)):
        raise _bad_value(key, text, f"{'an' if type_name == 'int' else 'a'} {type_name}")
    return {**encode_value(decoded), "description": description}


def _bad_value(key: str, text: str, what: str) -> TrackRequestError:
    return TrackRequestError(f"Parameter '{key}' must be {what}, got '{text}'.", 422, "invalid")


def apply_parameters(hyperparams: dict[str, Any], edits: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A copy of the task's hyperparameter sections with the edits applied."""
    result: dict[str, dict[str, Any]] = copy.deepcopy(hyperparams or {})
    for key, value in edits.items():
        section, name = split_key(key)
        existing = (result.get(section) or {}).get(name)
        result.setdefault(section, {})[name] = typed_entry(key, value, existing)
    return result


def has_code(notebook: Any) -> bool:
    return any(cell.get("cell_type") == "code" and "".join(cell.get("source") or "").strip()
               for cell in notebook.get("cells", []))


async def run_remotely(api: TrackingApi, request: RunRemotelyRequest, notebook: Any, requirements: str,
                       default_project: str) -> dict[str, Any]:
    """Make the notebook's remote-run task and enqueue it; returns `{"task_id", "task", "queue"}`.

    Raises:
        TrackRequestError: nothing to run, an unknown queue or tracked task, a bad parameter value.
        TrackingServerError: the tracking server refused or did not answer.
    """
    if not has_code(notebook):
        raise TrackRequestError(f"'{request.path}' has no code cells: there is nothing to run remotely.",
                                422, "invalid")
    queue = await api.get_queue(request.queue)
    if queue is None:
        raise TrackRequestError(
            f"There is no queue '{request.queue}': pick another one, or start an agent for it on the remote "
            f"machine (`labtrack agent --queue {request.queue}` creates it).", 404, "not_found")
    source = await api.get_task(request.task_id) if request.task_id else None
    if request.task_id and source is None:
        raise TrackRequestError(f"The notebook's tracked task {request.task_id} no longer exists: press Track again, "
                                "or run it remotely without its parameters.", 404, "not_found")
    hyperparams = apply_parameters((source or {}).get("hyperparams") or {}, request.parameters)
    body: dict[str, Any] = {
        "name": request.name or (source or {}).get("name") or notebook_stem(request.path),
        "type": (source or {}).get("type") or "training",
        "script": script_for(request.path, notebook, requirements),
        "hyperparams": hyperparams,
        "comment": f"Run remotely from JupyterLab: {request.path}",
    }
    if request.project:
        body["project_name"] = request.project
    elif source is not None:
        body["project_id"] = source["project_id"]
    else:
        body["project_name"] = default_project or FALLBACK_PROJECT
    if source is not None:
        body["parent_id"] = source["id"]
    task = await api.create_task(body)
    try:
        task = await api.enqueue_task(task["id"], queue["id"])
    except TrackingServerError:
        try:
            await api.delete_task(task["id"])
        except TrackingServerError:
            pass  # the enqueue's own error is the one to report
        raise
    return {"task_id": task["id"], "project_id": task.get("project_id"), "task": task,
            "queue": {"id": queue["id"], "name": queue["name"]}}


__all__ = ["RunRemotelyRequest", "apply_parameters", "run_remotely", "split_key", "typed_entry"]
