"""Worker rules: register (with replace), heartbeat (answers stop requests), unregister, lost workers.

A worker is `active` until it unregisters, is replaced by a new registration of its name, or
sends no heartbeat (a pop counts as one) for the server's worker timeout; then it is `gone` and
any task still `in_progress` on it is failed with status_reason "worker lost", so killing an agent
never leaves a task running for ever.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from labtrack.server.errors import Conflict, NotFound
from labtrack.server.services.paging import CursorKey, check_limit, decode_cursor, encode_cursor
from labtrack.server.store import queues as queue_store
from labtrack.server.store import tasks as task_store
from labtrack.server.store import workers as worker_store
from labtrack.server.store.db import Database
from labtrack.server.util import describe_seconds, dumps, loads, new_id, now

WORKER_STATUSES = ("active", "gone")
LOST_REASON = "worker lost"
# Gone workers stay listed this long after their last heartbeat, then the sweep deletes them.
GONE_RETENTION = 7 * 24 * 3600.0


def _unknown(worker_id: str) -> NotFound:
    return NotFound(f"Worker {worker_id} does not exist.", {"worker": worker_id})


class WorkerService:
    """Agents' worker records."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def register(self, user: str, name: str, queues: list[str], resources: dict[str, Any],
                 replace: bool = False) -> dict[str, Any]:
        """A new active worker pulling `queues` (ids or names, in priority order).

        Raises:
            NotFound: a queue does not exist.
            Conflict: an active worker has this name and `replace` is false.
        """
        worker_id, stamp = new_id(), now()
        try:
            with self.db.write() as conn:
                queue_ids: list[str] = []
                for ref in queues:
                    row = queue_store.resolve(conn, ref)
                    if not row:
                        raise NotFound(f"Queue {ref!r} does not exist (a queue is named by its id or its name).",
                                       {"queue": ref})
                    queue_ids.append(row["id"])
                old = worker_store.active_by_name(conn, name)
                if old and not replace:
                    raise Conflict(f"An active worker is named {name!r} (id {old['id']}): pick another name, or send "
                                   '"replace": true to take over (the old one is marked gone).',
                                   {"worker": old["id"], "name": name})
                if old:
                    self._mark_lost(conn, [old["id"]], stamp, f"replaced by a new registration of {name!r}")
                worker_store.insert_worker(conn, {
                    "id": worker_id, "name": name, "status": "active", "user": user, "registered": stamp,
                    "last_heartbeat": stamp, "current_task": None, "resources": dumps(resources, "resources"),
                    "usage": None,
                }, list(dict.fromkeys(queue_ids)))
        except IntegrityError:  # the same name registered by a concurrent request
            raise Conflict(f"An active worker is named {name!r}: pick another name, or send \"replace\": true.",
                           {"name": name}) from None
        return self.get(worker_id)

    def get(self, worker_id: str) -> dict[str, Any]:
        """A worker with its queues and current task."""
        with self.db.read() as conn:
            row = worker_store.get_worker(conn, worker_id)
            if not row:
                raise _unknown(worker_id)
            return self._decorate(conn, [row])[0]

    def list_workers(self, status: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """Workers (`active`, `gone` or `all`) sorted by name."""
        check_limit(limit)
        after = decode_cursor(cursor, [CursorKey.TEXT, CursorKey.ID])
        statuses = list(WORKER_STATUSES) if status == "all" else [status]
        with self.db.read() as conn:
            rows = worker_store.list_workers(conn, statuses, tuple(after) if after else None, limit + 1)  # type: ignore[arg-type]
            more = len(rows) > limit
            items = self._decorate(conn, rows[:limit])
        return items, encode_cursor([items[-1]["name"], items[-1]["id"]]) if more else None

    def _decorate(self, conn: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        queues = worker_store.queue_ids_of(conn, [r["id"] for r in rows])
        current = worker_store.task_summaries(conn, [r["current_task"] for r in rows if r["current_task"]])
        return [{
            "id": r["id"], "name": r["name"], "status": r["status"], "queues": queues[r["id"]],
            "registered": r["registered"], "last_heartbeat": r["last_heartbeat"],
            "current_task": current.get(r["current_task"] or ""),
            "resources": loads(r["resources"], {}), "usage": loads(r["usage"], None) if r["usage"] else None,
        } for r in rows]

    def heartbeat(self, worker_id: str, task_id: str | None, usage: dict[str, Any] | None) -> dict[str, Any]:
        """Record the worker's contact and current task; answer whether that task should stop.

        `stop_requested` is true when the task has a stop request, was stopped (force) or was
        deleted: in each case the agent should end the process running it. The task's own
        `last_update` is touched too, so a task whose process has not attached yet (an environment
        still building) is not failed for lost contact while its worker is alive.

        Raises:
            NotFound: unknown worker. Conflict: the worker is gone (register again).
        """
        stamp = now()
        stop = False
        with self.db.write() as conn:
            worker = worker_store.get_worker(conn, worker_id, for_update=True)
            if not worker:
                raise _unknown(worker_id)
            if worker["status"] != "active":
                raise Conflict(f"Worker {worker_id} is gone (no heartbeat in time, replaced or unregistered): "
                               "register again.", {"worker": worker_id, "status": worker["status"]}, code="worker_gone")
            values: dict[str, Any] = {"last_heartbeat": stamp, "current_task": task_id}
            if usage is not None:
                values["usage"] = dumps(usage, "usage")
            worker_store.update_worker(conn, worker_id, values)
            if task_id:
                state = task_store.status_of(conn, task_id)
                if state is None:
                    stop = True
                else:
                    status, requested = state
                    stop = requested or status == "stopped"
                    if status == "in_progress":
                        task_store.touch(conn, task_id, stamp)
        return {"stop_requested": stop}

    def touch(self, worker_id: str) -> None:
        """Count a long-polling pop as contact (the worker is waiting, not lost)."""
        with self.db.write() as conn:
            worker_store.update_worker(conn, worker_id, {"last_heartbeat": now()})

    def unregister(self, worker_id: str) -> None:
        """The worker leaves: gone, and a task still running on it fails ("worker lost")."""
        with self.db.write() as conn:
            worker = worker_store.get_worker(conn, worker_id, for_update=True)
            if not worker:
                raise _unknown(worker_id)
            self._mark_lost(conn, [worker_id], now(), "the worker unregistered while the task ran")

    def sweep_lost(self, timeout: float) -> int:
        """The watchdog's pass: workers silent for longer than `timeout` → gone, their tasks failed."""
        stamp = now()
        silent = describe_seconds(timeout)
        with self.db.write() as conn:
            ids = worker_store.silent_worker_ids(conn, stamp - timeout)
            if ids:
                self._mark_lost(conn, ids, stamp, f"no heartbeat from the worker for {silent} (the server's worker "
                                "timeout, --worker-timeout or LABTRACK_WORKER_TIMEOUT): the agent was killed, hung "
                                "or lost its network")
            worker_store.prune_gone(conn, stamp - GONE_RETENTION)
        return len(ids)

    def _mark_lost(self, conn: Any, worker_ids: list[str], stamp: float, why: str) -> None:
        worker_store.mark_gone(conn, worker_ids)
        worker_store.fail_running_tasks(conn, worker_ids, stamp, LOST_REASON, f"Worker lost: {why}.")
