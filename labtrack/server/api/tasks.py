"""`/tasks`: create, list (filters, sort, cursor), get, patch, delete, status actions, heartbeat."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Callable

from fastapi import APIRouter, Depends, Query, Request, Response

from labtrack.server.api.common import ERRORS, Services, services, with_times
from labtrack.server.api.schemas import (
    WS, EnqueueChange, Heartbeat, StatusChange, Task, TaskClone, TaskCreate, TaskList, TaskPatch, Text, csv_pattern,
)
from labtrack.server.errors import Invalid
from labtrack.server.services.tasks import ACTIONS, SORT_KEYS, STATUSES, TASK_TYPES, parse_sort
from labtrack.server.store.tasks import TaskFilter
from labtrack.server.util import parse_time

router = APIRouter(prefix="/tasks", tags=["tasks"], responses=ERRORS)

_ACTION_DOCS = {
    "enqueue": "created, stopped or failed → queued, in `queue` (id or name; default `default`) with `priority`.",
    "dequeue": "queued → created.",
    "start": "created or queued → in_progress (sets `started`).",
    "complete": "in_progress → completed.",
    "fail": "in_progress or queued → failed; `reason` is kept in `status_reason`.",
    "stop": "created/queued → stopped; in_progress → `stop_requested` (the process stops itself); "
    "with `force` or a second stop → stopped.",
    "reset": "any but published/in_progress → created; clears events, artifacts, metrics and times.",
    "publish": "completed or stopped → published.",
}


def task_out(task: dict[str, Any]) -> dict[str, Any]:
    """A task dict with wire-format times."""
    return with_times(task)


def _csv(value: str | None, name: str, allowed: tuple[str, ...] | None = None, limit: int = 1000) -> list[str] | None:
    if value is None or value == "":
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if len(items) > limit:
        raise Invalid(f"{name} takes at most {limit} values.", [{"loc": ["query", name], "msg": "too many"}])
    if allowed is not None:
        bad = [v for v in items if v not in allowed]
        if bad:
            raise Invalid(
                f"{name}={','.join(bad)} is not valid; use one of {', '.join(allowed)}.",
                [{"loc": ["query", name], "msg": "unknown value"}],
            )
    return items


def _archived(value: str) -> bool | None:
    text = value.strip().lower()
    if text in ("", "all", "any"):
        return None
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise Invalid("archived must be true, false or all.", [{"loc": ["query", "archived"], "msg": "not a boolean"}])


def _time(value: str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    if _UNIX_SECONDS.fullmatch(value):
        return parse_time(value, name)
    text = value.replace("z", "Z")  # RFC 3339 allows a lowercase z
    try:  # an ISO 8601 time is checked by parsing it (a regex can't know February has no 30th)
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{name}={value!r} is not a time: use ISO 8601 (2026-11-26T06:30:00Z) or Unix seconds.",
                      [{"loc": ["query", name], "msg": "not a time"}]) from None
    return parse_time(text, name)


# The rules _csv, _archived, parse_sort and _time check, stated in the document.
_UNIX_SECONDS = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_TIME_DOC = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "pattern": _UNIX_SECONDS.pattern},
                       {"type": "string", "maxLength": 0}], "description": "ISO 8601 time or Unix seconds; empty: no bound"}
_SORT = rf"^(?:{WS}*[+-]*(?:{'|'.join(SORT_KEYS)}|metric:[\s\S]+/[^/]*){WS}*)?$"  # empty: the default
_ARCHIVED = rf"^{WS}*(?:[aA][lL][lL]|[aA][nN][yY]|[tT][rR][uU][eE]|1|[yY][eE][sS]|[fF][aA][lL][sS][eE]|0|[nN][oO])?{WS}*$"


@router.post("", response_model=Task, status_code=201)
def create_task(body: TaskCreate, request: Request, svc: Services = Depends(services)) -> dict:
    """Create a task in status `created` (`project_name` creates the project when missing)."""
    if not body.project_id and not body.project_name:
        raise Invalid(
            "A task needs a project: send project_id or project_name.",
            [{"loc": ["body", "project_name"], "msg": "project_id or project_name is required"}],
        )
    data = body.model_dump(exclude_none=True)
    data["hyperparams"] = {s: {k: v.model_dump() for k, v in sec.items()} for s, sec in body.hyperparams.items()}
    return task_out(svc.tasks.create(data, request.state.user))


@router.get("", response_model=TaskList)
def list_tasks(
    project_id: str | None = Query(None, description="comma list of project ids"),
    project: Text | None = Query(None, description="project name"),
    include_subprojects: bool = False,
    status: str | None = Query(None, description="comma list", json_schema_extra={"pattern": csv_pattern(STATUSES, 1000)}),
    type: str | None = Query(None, description="comma list", json_schema_extra={"pattern": csv_pattern(TASK_TYPES, 1000)}),
    tags: Text | None = Query(None, description="comma list; all must match"),
    search: Text | None = Query(None, max_length=1000, description="substring of the name, case-insensitive"),
    created_after: str | None = Query(None, json_schema_extra=_TIME_DOC),
    created_before: str | None = Query(None, json_schema_extra=_TIME_DOC),
    updated_after: str | None = Query(None, json_schema_extra=_TIME_DOC),
    updated_before: str | None = Query(None, json_schema_extra=_TIME_DOC),
    archived: str = Query("false", description="false (default), true, or all", json_schema_extra={"pattern": _ARCHIVED}),
    ids: str | None = Query(None, description="comma list, at most 1000"),
    user: Text | None = None,
    queue: Text | None = Query(None, max_length=64, description="queue id or name: the tasks waiting in it"),
    worker: Text | None = Query(None, max_length=32, description="worker id: the tasks it runs or ran"),
    sort: str = Query("-created", json_schema_extra={"pattern": _SORT}, description="created, last_update, started, name, status, last_iteration or metric:<metric>/<variant>; '-' for descending"),
    limit: int = Query(50, ge=1, le=1000),
    cursor: str | None = None,
    svc: Services = Depends(services),
) -> dict:
    """Tasks matching the filters, sorted, one page at a time."""
    flt = TaskFilter(
        project_ids=_csv(project_id, "project_id"),
        project_name=project or None,
        include_subprojects=include_subprojects,
        statuses=_csv(status, "status", STATUSES),
        types=_csv(type, "type", TASK_TYPES),
        tags=_csv(tags, "tags", limit=50) or [],
        search=search or None,
        created_after=_time(created_after, "created_after"),
        created_before=_time(created_before, "created_before"),
        updated_after=_time(updated_after, "updated_after"),
        updated_before=_time(updated_before, "updated_before"),
        archived=_archived(archived),
        ids=_csv(ids, "ids"),
        user=user or None,
        queue_id=queue or None,
        worker=worker or None,
    )
    items, next_cursor = svc.tasks.list(flt, parse_sort(sort), limit, cursor)
    return {"items": [task_out(t) for t in items], "next_cursor": next_cursor}


@router.get("/{task_id}", response_model=Task)
def get_task(task_id: str, svc: Services = Depends(services)) -> dict:
    """The full task."""
    return task_out(svc.tasks.get(task_id))


@router.patch("/{task_id}", response_model=Task)
def patch_task(task_id: str, body: TaskPatch, svc: Services = Depends(services)) -> dict:
    """Change fields; hyperparams/configuration replace what they name, script/runtime merge by key."""
    changes = body.model_dump(exclude_unset=True)
    for blob in ("script", "runtime"):
        if body.__dict__.get(blob) is not None:
            changes[blob] = body.__dict__[blob].model_dump(exclude_unset=True)
    return task_out(svc.tasks.patch(task_id, changes))


@router.delete("/{task_id}", status_code=204, response_class=Response)
def delete_task(task_id: str, svc: Services = Depends(services)) -> Response:
    """Delete a task with its events and artifacts."""
    svc.tasks.delete(task_id)
    return Response(status_code=204)


@router.post("/{task_id}/clone", response_model=Task, status_code=201)
def clone_task(task_id: str, request: Request, body: TaskClone | None = None, svc: Services = Depends(services)) -> dict:
    """A new `created` task with the source's code, hyperparameters and configuration (parent = source)."""
    return task_out(svc.tasks.clone(task_id, request.state.user, (body or TaskClone()).name))


@router.post("/{task_id}/heartbeat", response_model=Heartbeat)
def heartbeat(task_id: str, svc: Services = Depends(services)) -> dict:
    """Record contact from the running process; answers whether a stop was requested."""
    return svc.tasks.heartbeat(task_id)


def _action_endpoint(action: str) -> Callable[..., dict]:
    def endpoint(task_id: str, body: StatusChange | None = None, svc: Services = Depends(services)) -> dict:
        change = body or StatusChange()
        return task_out(svc.tasks.act(task_id, action, change.reason, change.message, change.force))

    def enqueue(task_id: str, body: EnqueueChange | None = None, svc: Services = Depends(services)) -> dict:
        change = body or EnqueueChange()
        return task_out(svc.tasks.act(task_id, action, change.reason, change.message, change.force,
                                      queue=change.queue, priority=change.priority))

    # enqueue's body also names the queue and the priority
    chosen: Callable[..., dict] = enqueue if action == "enqueue" else endpoint
    chosen.__name__ = f"task_{action}"
    chosen.__doc__ = f"Status action '{action}': {_ACTION_DOCS[action]}"
    return chosen


for _action in ACTIONS:
    router.add_api_route(
        f"/{{task_id}}/{_action}", _action_endpoint(_action), methods=["POST"], response_model=Task,
        name=f"task_{_action}", summary=f"{_action.capitalize()} a task",
    )
