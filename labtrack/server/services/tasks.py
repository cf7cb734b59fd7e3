"""Task rules: creation, patch semantics, the status state machine, list queries, lost contact."""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy.exc import IntegrityError

from labtrack.server.errors import IllegalTransition, Invalid, NotFound
from labtrack.server.services.paging import CursorKey, check_limit, decode_cursor, encode_cursor
from labtrack.server.services.projects import ProjectService
from labtrack.server.store import projects as project_store
from labtrack.server.store import queues as queue_store
from labtrack.server.store import tasks as task_store
from labtrack.server.store.run_numbers import run_numbers
from labtrack.server.store.db import Database
from labtrack.server.store.tasks import TaskFilter, TaskSort
from labtrack.server.util import describe_seconds, dumps, loads, new_id, now

TASK_TYPES = (
    "training", "testing", "inference", "data_processing", "application", "monitor",
    "controller", "optimizer", "service", "qc", "custom",
)
STATUSES = ("created", "queued", "in_progress", "stopped", "completed", "failed", "published")
SORT_KEYS = ("created", "last_update", "started", "name", "status", "last_iteration")
# the kind of each sort key's value in a cursor; timestamps and metric values are numbers
_SORT_VALUE_KEYS = {"name": CursorKey.TEXT, "status": CursorKey.TEXT, "last_iteration": CursorKey.INTEGER}
ACTIONS = ("enqueue", "dequeue", "start", "complete", "fail", "stop", "reset", "publish")
DEFAULT_QUEUE = "default"

# action → states it may start from (stop and reset are special-cased below).
_ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "enqueue": ("created", "stopped", "failed"),
    "dequeue": ("queued",),
    "start": ("created", "queued"),
    "complete": ("in_progress",),
    "fail": ("in_progress", "queued"),
    "stop": ("created", "queued", "in_progress"),
    "reset": ("created", "queued", "stopped", "completed", "failed"),
    "publish": ("completed", "stopped"),
}

EMPTY_SCRIPT: dict[str, Any] = {
    "repository": "", "branch": "", "commit": "", "diff": "", "entry_point": "", "working_dir": "",
    "argv": [], "requirements": "", "notebook": None, "notebook_path": "",
}
EMPTY_RUNTIME: dict[str, Any] = {"hostname": "", "python": "", "os": "", "cpu_count": 0, "memory_gb": 0, "gpus": []}


def _unknown(what: str, task_id: str) -> NotFound:
    return NotFound(f"{what} {task_id} does not exist.")


def nest_metrics(summaries: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Flat metric summary rows → `{metric: {variant: {last, min, max, last_iteration, count}}}`."""
    nested: dict[str, dict[str, dict[str, Any]]] = {}
    for s in summaries:
        nested.setdefault(s["metric"], {})[s["variant"]] = {
            "last": s["last"], "min": s["min"], "max": s["max"],
            "last_iteration": s["last_iteration"], "count": s["count"],
        }
    return nested


def _decode(
    row: dict[str, Any], summaries: list[dict[str, Any]], number: tuple[int, int], *, full: bool
) -> dict[str, Any]:
    task = dict(row)
    task["run_number"], task["run_count"] = number
    task.pop("_sort_value", None)
    task["tags"] = loads(task["tags"], [])
    task["hyperparams"] = loads(task["hyperparams"], {})
    task["runtime"] = {**EMPTY_RUNTIME, **loads(task["runtime"], {})}
    task["stop_requested"] = bool(task["stop_requested"])
    task["archived"] = bool(task["archived"])
    task["last_metrics"] = nest_metrics(summaries)
    if full:
        task["configuration"] = loads(task["configuration"], {})
        task["script"] = {**EMPTY_SCRIPT, **loads(task["script"], {})}
    return task


class TaskService:
    """Everything about tasks except their events and artifacts."""

    def __init__(self, db: Database, projects: ProjectService, on_delete: Callable[[str], None] | None = None,
                 on_enqueue: Callable[[], None] | None = None) -> None:
        self.db = db
        self.projects = projects
        # Called after a task's rows are gone, to remove its stored bytes.
        self.on_delete = on_delete or (lambda task_id: None)
        # Called after a task was enqueued and committed, to wake long-polling pops.
        self.on_enqueue = on_enqueue or (lambda: None)

    # -- reads -----------------------------------------------------------------------------

    def get(self, task_id: str) -> dict[str, Any]:
        """The full task; NotFound when unknown."""
        with self.db.read() as conn:
            row = task_store.get_row(conn, task_id)
            if not row:
                raise _unknown("Task", task_id)
            summaries = task_store.metric_summaries(conn, [task_id])[task_id]
            numbers = run_numbers(conn, [row])
        return _decode(row, summaries, numbers.get(task_id, (1, 1)), full=True)

    def list(self, flt: TaskFilter, sort: TaskSort, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of tasks (without script/configuration) and the next cursor."""
        check_limit(limit)
        after = decode_cursor(cursor, [_SORT_VALUE_KEYS.get(sort.key, CursorKey.NUMBER), CursorKey.ID])
        with self.db.read() as conn:
            if flt.queue_id is not None:  # a queue is named by id or name; an unknown one matches nothing
                queue = queue_store.resolve(conn, flt.queue_id)
                flt.queue_id = queue["id"] if queue else flt.queue_id
            rows = task_store.list_tasks(conn, flt, sort, tuple(after) if after else None, limit + 1)  # type: ignore[arg-type]
            more = len(rows) > limit
            rows = rows[:limit]
            summaries = task_store.metric_summaries(conn, [r["id"] for r in rows])
            numbers = run_numbers(conn, rows)
        next_cursor = encode_cursor([rows[-1]["_sort_value"], rows[-1]["id"]]) if more else None
        return [_decode(r, summaries[r["id"]], numbers.get(r["id"], (1, 1)), full=False) for r in rows], next_cursor

    # -- writes ----------------------------------------------------------------------------

    def create(self, body: dict[str, Any], user: str) -> dict[str, Any]:
        """Create a task in status `created`; `project_name` creates the project when missing."""
        for attempt in range(3):
            try:
                return self._create(body, user)
            except IntegrityError:
                # Another request created the same new project at the same moment: look again.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _create(self, body: dict[str, Any], user: str) -> dict[str, Any]:
        task_id, stamp = new_id(), now()
        with self.db.write() as conn:
            if body.get("project_id"):
                if not project_store.get(conn, body["project_id"]):
                    raise _unknown("Project", body["project_id"])
                project_id = body["project_id"]
            else:
                project_id = self.projects.get_or_create_id(conn, body["project_name"])
            if body.get("parent_id") and not task_store.status_of(conn, body["parent_id"]):
                raise _unknown("Parent task", body["parent_id"])
            tags = list(body.get("tags") or [])
            row = {
                "id": task_id, "project_id": project_id, "name": body["name"], "type": body.get("type") or "training",
                "status": "created", "status_reason": "", "status_message": "", "stop_requested": False,
                "archived": False, "tags": dumps(tags), "comment": body.get("comment") or "",
                "parent_id": body.get("parent_id"), "user": user, "created": stamp, "started": None,
                "last_update": stamp, "completed": None, "last_iteration": None,
                "hyperparams": dumps(_drop_empty_sections(body.get("hyperparams") or {})),
                "configuration": dumps(_drop_null_entries(body.get("configuration") or {})),
                "script": dumps(body.get("script") or {}),
                "runtime": dumps(body.get("runtime") or {}),
            }
            task_store.insert_task(conn, row, tags)
        return self.get(task_id)

    def clone(self, task_id: str, user: str, name: str | None = None) -> dict[str, Any]:
        """A new `created` task in the source's project with its code, parameters and configuration.

        The clone is a draft to edit and run again (ClearML's "clone"): events, artifacts,
        metrics, times and the runtime stay with the source, whose id becomes the `parent_id`.
        """
        source = self.get(task_id)
        return self.create(
            {
                "project_id": source["project_id"], "name": name or source["name"], "type": source["type"],
                "tags": source["tags"], "comment": source["comment"], "parent_id": task_id,
                "hyperparams": source["hyperparams"], "configuration": source["configuration"],
                "script": source["script"],
            },
            user,
        )

    def patch(self, task_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply a partial update with the documented merge rules."""
        with self.db.write() as conn:
            row = task_store.get_row(conn, task_id, for_update=True)
            if not row:
                raise _unknown("Task", task_id)
            values: dict[str, Any] = {}
            for simple in ("name", "comment", "archived", "status_message"):
                if changes.get(simple) is not None:
                    values[simple] = changes[simple]
            if changes.get("project_id") is not None:
                if not project_store.get(conn, changes["project_id"]):
                    raise _unknown("Project", changes["project_id"])
                values["project_id"] = changes["project_id"]
            if changes.get("tags") is not None:
                values["tags"] = dumps(list(changes["tags"]))
                task_store.set_tags(conn, task_id, list(changes["tags"]))
            if changes.get("hyperparams") is not None:
                merged = loads(row["hyperparams"], {})
                merged.update(changes["hyperparams"])
                values["hyperparams"] = dumps(_drop_empty_sections(merged))
            if changes.get("configuration") is not None:
                merged = loads(row["configuration"], {})
                merged.update(changes["configuration"])
                values["configuration"] = dumps(_drop_null_entries(merged))
            for blob in ("script", "runtime"):
                if changes.get(blob) is not None:
                    values[blob] = dumps({**loads(row[blob], {}), **changes[blob]})
            values["last_update"] = now()
            task_store.update_task(conn, task_id, values)
        return self.get(task_id)

    def delete(self, task_id: str) -> None:
        """Delete a task with its events and artifacts (rows first, then bytes)."""
        with self.db.write() as conn:
            if not task_store.status_of(conn, task_id):
                raise _unknown("Task", task_id)
            task_store.delete_task(conn, task_id)
        self.on_delete(task_id)

    def act(self, task_id: str, action: str, reason: str = "", message: str = "", force: bool = False, *,
            queue: str | None = None, priority: int = 0) -> dict[str, Any]:
        """Apply a status action through the state machine; IllegalTransition names the current state.

        `enqueue` puts the task in `queue` (id or name; `default` when None) with `priority`; every
        action that leaves `queued` takes the task's entry out of its queue, so an entry exists
        exactly while its task is queued.
        """
        with self.db.write() as conn:
            cleared = self.act_in(conn, task_id, action, reason, message, force, queue=queue, priority=priority)
        if cleared:
            self.on_delete(task_id)
        if action == "enqueue":
            self.on_enqueue()
        return self.get(task_id)

    def act_in(self, conn: Any, task_id: str, action: str, reason: str = "", message: str = "", force: bool = False,
               *, queue: str | None = None, priority: int = 0) -> bool:
        """`act` inside the caller's write transaction (which then calls `on_enqueue`/`on_delete`
        itself after the commit); True when the task's data was cleared (reset)."""
        if action not in ACTIONS:
            raise NotFound(f"Unknown task action {action!r}; use one of: {', '.join(ACTIONS)}.")
        cleared = False
        row = task_store.get_row(conn, task_id, for_update=True)
        if not row:
            raise _unknown("Task", task_id)
        status = row["status"]
        if status not in _ALLOWED_FROM[action]:
            raise IllegalTransition(
                f"Task {task_id} is {status}; '{action}' needs {' or '.join(_ALLOWED_FROM[action])}.",
                {"status": status, "action": action, "allowed_from": list(_ALLOWED_FROM[action])},
            )
        stamp = now()
        values: dict[str, Any] = {"last_update": stamp}
        if reason or action in ("start", "enqueue", "reset"):
            values["status_reason"] = reason
        if message or action in ("start", "enqueue", "reset"):
            values["status_message"] = message
        if status == "queued":
            queue_store.delete_entry(conn, task_id)
            values["queue"] = None
        if action == "enqueue":
            target = queue_store.resolve(conn, queue or DEFAULT_QUEUE)
            if target is None:
                raise NotFound(f"Queue {queue or DEFAULT_QUEUE!r} does not exist: create it with POST /queues.",
                               {"queue": queue or DEFAULT_QUEUE})
            queue_store.insert_entry(conn, task_id, target["id"], priority, stamp)
            values.update(status="queued", stop_requested=False, queue=target["id"], worker=None)
        elif action == "dequeue":
            values.update(status="created")
        elif action == "start":
            values.update(status="in_progress", started=stamp, completed=None, stop_requested=False)
        elif action == "complete":
            values.update(status="completed", completed=stamp, stop_requested=False)
        elif action == "fail":
            values.update(status="failed", completed=stamp, stop_requested=False)
        elif action == "stop":
            if status == "in_progress" and not (force or row["stop_requested"]):
                # The running process sees the request on its next contact and stops itself.
                values.update(stop_requested=True)
                values.setdefault("status_reason", reason or "stop requested")
            else:
                values.update(status="stopped", completed=stamp, stop_requested=False)
        elif action == "reset":
            values.update(status="created", started=None, completed=None, last_iteration=None,
                          stop_requested=False, worker=None)
            task_store.delete_task_data(conn, task_id)
            cleared = True
        elif action == "publish":
            values.update(status="published")
        task_store.update_task(conn, task_id, values)
        return cleared

    def start_on_worker(self, conn: Any, task_id: str, worker_id: str, worker_name: str, stamp: float) -> None:
        """A popped task (its entry already locked in `conn`): queued → in_progress on a worker."""
        queue_store.delete_entry(conn, task_id)
        task_store.update_task(conn, task_id, {
            "status": "in_progress", "queue": None, "worker": worker_id, "started": stamp, "completed": None,
            "last_update": stamp, "stop_requested": False, "status_reason": "",
            "status_message": f"running on {worker_name}",
        })

    def dequeue_in(self, conn: Any, task_id: str) -> None:
        """queued → created inside the caller's transaction (a queue deleted with force).

        The task row first, then its entry: the order `act` locks them in, so the two never deadlock.
        """
        task_store.update_task(conn, task_id, {"status": "created", "queue": None, "last_update": now(),
                                               "status_reason": "queue deleted", "status_message": ""})
        queue_store.delete_entry(conn, task_id)

    def heartbeat(self, task_id: str) -> dict[str, Any]:
        """Record contact; tell the process whether it was asked to stop."""
        with self.db.write() as conn:
            state = task_store.status_of(conn, task_id)
            if not state:
                raise _unknown("Task", task_id)
            task_store.touch(conn, task_id, now())
        return {"status": state[0], "stop_requested": state[1]}

    def fail_silent_tasks(self, timeout: float) -> int:
        """The lost-contact watchdog's sweep: fail in-progress tasks silent for longer than `timeout`."""
        stamp = now()
        silent = describe_seconds(timeout)
        reason = f"lost contact: no heartbeat or event for {silent}"
        message = (f"The task's process sent nothing for more than {silent} (the server's lost-contact timeout, "
                   "--lost-contact-timeout or LABTRACK_LOST_CONTACT_TIMEOUT): it was killed, hung, or lost "
                   "its network.")
        with self.db.write() as conn:
            return task_store.fail_silent_tasks(conn, stamp - timeout, stamp, reason, message)


def _drop_empty_sections(hyperparams: dict[str, Any]) -> dict[str, Any]:
    # Sending `{}` for a section clears it (documented PATCH semantics).
    return {k: v for k, v in hyperparams.items() if v}


def _drop_null_entries(configuration: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in configuration.items() if v is not None}


def parse_sort(sort: str | None) -> TaskSort:
    """`-created`, `name`, `metric:loss/train`, … → TaskSort; Invalid with the choices otherwise."""
    text = (sort or "-created").strip()
    descending = text.startswith("-")
    key = text.lstrip("-+")
    if key.startswith("metric:"):
        spec = key[len("metric:"):]
        metric, sep, variant = spec.rpartition("/")
        if not sep or not metric:
            raise Invalid(
                f"sort={sort!r}: a metric sort is 'metric:<metric>/<variant>' (split at the last '/').",
                [{"loc": ["query", "sort"], "msg": "bad metric sort"}],
            )
        return TaskSort(key="metric", descending=descending, metric=metric, variant=variant)
    if key not in SORT_KEYS:
        raise Invalid(
            f"sort={sort!r} is not supported: use one of {', '.join(SORT_KEYS)} or metric:<metric>/<variant>, "
            "with '-' for descending.",
            [{"loc": ["query", "sort"], "msg": "unknown sort key"}],
        )
    return TaskSort(key=key, descending=descending)
