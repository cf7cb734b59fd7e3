"""Queue rules: create/list/delete queues, order their entries, and pop the next task atomically.

The invariant: a task has a queue entry exactly while it is `queued` (TaskService.act keeps it on
every status change), and a pop turns the first entry into an `in_progress` task owned by one
worker inside one transaction, so two workers never get the same task. Long-polling callers wait
on `QueueSignal`, which enqueues in this process ring; other processes' enqueues are seen by the
caller's periodic re-check.
"""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

from sqlalchemy.exc import IntegrityError

from labtrack.server.errors import Conflict, Invalid, NotEmpty, NotFound
from labtrack.server.services.paging import CursorKey, check_limit, decode_cursor, encode_cursor
from labtrack.server.services.tasks import DEFAULT_QUEUE, TaskService
from labtrack.server.store import queues as queue_store
from labtrack.server.store import workers as worker_store
from labtrack.server.store.db import Database
from labtrack.server.util import new_id, now

QUEUE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_QUEUE_NAME = re.compile(QUEUE_NAME_PATTERN)
PRIORITY_RANGE = (-100, 100)
# Path words under /queues that a queue name would shadow.
RESERVED_NAMES = ("pop",)


class QueueSignal:
    """A generation counter that async waiters can sleep on and any thread can bump.

    A waiter reads `generation` before it looks at the database and then waits for a different
    value, so an enqueue that lands between the look and the wait is never missed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        # Set when the server begins to shut down: waiting pops end (204) instead of holding it up.
        self.closed = False

    @property
    def generation(self) -> int:
        return self._generation

    def notify(self) -> None:
        """Wake every waiter (callable from any thread)."""
        with self._lock:
            self._generation += 1
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed; its waiter is gone with it
                pass

    def close(self) -> None:
        """End every wait now and every later one at once (the server is shutting down)."""
        self.closed = True
        self.notify()

    async def wait(self, seen: int, timeout: float) -> bool:
        """Sleep until the generation moves past `seen` or `timeout` seconds pass; True when it moved."""
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        with self._lock:
            if self._generation != seen or self.closed:
                return True
            self._waiters.add(entry)
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(entry)


def _unknown_queue(ref: str) -> NotFound:
    return NotFound(f"Queue {ref!r} does not exist (a queue is named by its id or its name).", {"queue": ref})


def _check_priority(priority: int, loc: str = "priority") -> int:
    low, high = PRIORITY_RANGE
    if not low <= priority <= high:
        raise Invalid(f"{loc} must be between {low} and {high}.", [{"loc": ["body", loc], "msg": f"{low}..{high}"}])
    return priority


class QueueService:
    """Queues, their entries, and the atomic pop."""

    def __init__(self, db: Database, tasks: TaskService, signal: QueueSignal) -> None:
        self.db = db
        self.tasks = tasks
        self.signal = signal

    # -- queues ----------------------------------------------------------------------------

    def ensure_default(self) -> None:
        """Create the `default` queue when it is missing (the migration makes it; this heals)."""
        with self.db.read() as conn:
            if queue_store.resolve(conn, DEFAULT_QUEUE):
                return
        try:
            self.create(DEFAULT_QUEUE, "The queue a task goes to when none is named.")
        except Conflict:
            pass  # another process made it first

    def create(self, name: str, description: str = "") -> dict[str, Any]:
        """A new, empty queue; Conflict when the name is taken."""
        if not _QUEUE_NAME.fullmatch(name):
            raise Invalid(f"Queue name {name!r} is not valid: 1-64 letters, digits, '_', '.' or '-', "
                          "starting with a letter or digit.", [{"loc": ["body", "name"], "msg": "bad queue name"}])
        if name in RESERVED_NAMES:
            raise Conflict(f"{name!r} can't name a queue: /queues/{name} is an action of the API.", {"name": name})
        queue_id = new_id()
        try:
            with self.db.write() as conn:
                if queue_store.resolve(conn, name):
                    raise Conflict(f"A queue named {name!r} exists.", {"name": name})
                queue_store.insert_queue(conn, {"id": queue_id, "name": name, "description": description,
                                                "created": now()})
        except IntegrityError:
            raise Conflict(f"A queue named {name!r} exists.", {"name": name}) from None
        return self.get(queue_id)

    def get(self, ref: str) -> dict[str, Any]:
        """A queue by id or name, with its pending count and serving workers."""
        with self.db.read() as conn:
            row = queue_store.resolve(conn, ref)
            if not row:
                raise _unknown_queue(ref)
            return self._decorate(conn, [row])[0]

    def list_queues(self, name: str | None, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """Queues sorted by name, one page at a time."""
        check_limit(limit)
        after = decode_cursor(cursor, [CursorKey.TEXT])
        with self.db.read() as conn:
            rows = queue_store.list_queues(conn, name, after[0] if after else None, limit + 1)
            more = len(rows) > limit
            items = self._decorate(conn, rows[:limit])
        return items, encode_cursor([items[-1]["name"]]) if more else None

    def _decorate(self, conn: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = [r["id"] for r in rows]
        counts = queue_store.pending_counts(conn, ids)
        serving = queue_store.serving_workers(conn, ids)
        return [{**r, "pending": counts[r["id"]], "workers": serving[r["id"]]} for r in rows]

    def delete(self, ref: str, force: bool = False) -> None:
        """Delete an empty queue; with `force` its waiting tasks go back to `created` first."""
        with self.db.write() as conn:
            row = queue_store.resolve(conn, ref, for_update=True)
            if not row:
                raise _unknown_queue(ref)
            if row["name"] == DEFAULT_QUEUE:
                raise Conflict("The default queue can't be deleted: tasks enqueued without a queue go there.",
                               {"queue": row["id"]})
            waiting = queue_store.lock_waiting_tasks(conn, row["id"])
            if waiting and not force:
                raise NotEmpty(f"Queue {row['name']!r} holds {len(waiting)} task(s): dequeue them first, or "
                               "delete with ?force=true to send them back to created.",
                               {"queue": row["id"], "pending": len(waiting)})
            for task_id in waiting:
                self.tasks.dequeue_in(conn, task_id)
            queue_store.delete_queue(conn, row["id"])

    # -- entries ---------------------------------------------------------------------------

    def entries(self, ref: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A queue's entries in pop order."""
        check_limit(limit)
        after = decode_cursor(cursor, [CursorKey.INTEGER, CursorKey.INTEGER, CursorKey.ID])  # (priority, rank, task)
        with self.db.read() as conn:
            row = queue_store.resolve(conn, ref)
            if not row:
                raise _unknown_queue(ref)
            rows = queue_store.list_entries(conn, row["id"], tuple(after) if after else None, limit + 1)  # type: ignore[arg-type]
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1]["priority"], rows[-1]["rank"], rows[-1]["task_id"]]) if more else None
        return [_entry(r) for r in rows], next_cursor

    def entry(self, ref: str, task_id: str) -> dict[str, Any]:
        """One entry of a queue; NotFound when the task does not wait there."""
        with self.db.read() as conn:
            return self._entry_in(conn, ref, task_id)

    def _entry_in(self, conn: Any, ref: str, task_id: str) -> dict[str, Any]:
        row = queue_store.resolve(conn, ref)
        if not row:
            raise _unknown_queue(ref)
        entry = queue_store.get_entry(conn, task_id)
        if not entry or entry["queue_id"] != row["id"]:
            raise NotFound(f"Task {task_id} is not waiting in queue {row['name']!r}.", {"task_id": task_id})
        return _entry(entry)

    def add(self, ref: str, task_id: str, priority: int = 0) -> dict[str, Any]:
        """Enqueue a task (created, stopped or failed) in this queue: the same as POST /tasks/{id}/enqueue.

        The entry is read back in the enqueue's own transaction: a waiting worker may pop the task
        the moment it commits.
        """
        _check_priority(priority)
        with self.db.write() as conn:
            if not queue_store.resolve(conn, ref):
                raise _unknown_queue(ref)
            self.tasks.act_in(conn, task_id, "enqueue", queue=ref, priority=priority)
            entry = self._entry_in(conn, ref, task_id)
        self.tasks.on_enqueue()
        return entry

    def remove(self, ref: str, task_id: str) -> None:
        """Take a task out of the queue: back to `created` (the same as POST /tasks/{id}/dequeue)."""
        with self.db.write() as conn:
            self._entry_in(conn, ref, task_id)
            self.tasks.act_in(conn, task_id, "dequeue")

    def move(self, ref: str, task_id: str, priority: int | None, position: str | int | None) -> dict[str, Any]:
        """Change an entry's priority and/or move it (`top`, `bottom`, or a 0-based index in pop order).

        A move renumbers the queue's ranks and gives the entry the priority of its new neighbours,
        so the pop order is exactly the requested one.
        """
        if priority is not None:
            _check_priority(priority)
        with self.db.write() as conn:
            row = queue_store.resolve(conn, ref)
            if not row:
                raise _unknown_queue(ref)
            order = queue_store.entry_order(conn, row["id"])
            current = dict(order)
            if task_id not in current:
                raise NotFound(f"Task {task_id} is not waiting in queue {row['name']!r}.", {"task_id": task_id})
            own = priority if priority is not None else current[task_id]
            if position is None:
                queue_store.update_entry(conn, task_id, {"priority": own})
            else:
                others = [item for item in order if item[0] != task_id]
                index = {"top": 0, "bottom": len(others)}.get(position) if isinstance(position, str) else min(position, len(others))
                if index is None:
                    raise Invalid("position must be top, bottom or a 0-based index.",
                                  [{"loc": ["body", "position"], "msg": "top, bottom or an index"}])
                before = others[index - 1][1] if index > 0 else None
                after = others[index][1] if index < len(others) else None
                # Between its neighbours: at least the next one's priority, at most the previous one's.
                if before is not None and own > before:
                    own = before
                if after is not None and own < after:
                    own = after
                placed = [*others[:index], (task_id, own), *others[index:]]
                queue_store.set_ranks(conn, [(tid, prio, rank) for rank, (tid, prio) in enumerate(placed, start=1)])
            return self._entry_in(conn, ref, task_id)

    # -- pop -------------------------------------------------------------------------------

    def resolve_ids(self, refs: list[str]) -> list[str]:
        """Queue ids for ids-or-names, in the given order; NotFound names the first unknown one."""
        with self.db.read() as conn:
            ids = []
            for ref in refs:
                row = queue_store.resolve(conn, ref)
                if not row:
                    raise _unknown_queue(ref)
                ids.append(row["id"])
        return list(dict.fromkeys(ids))

    def has_pending(self, queue_ids: list[str]) -> bool:
        """Whether any of the queues holds an entry (a read: no write lock)."""
        with self.db.read() as conn:
            return queue_store.any_pending(conn, queue_ids)

    def pop(self, queue_ids: list[str], worker_id: str) -> dict[str, Any] | None:
        """Give the first waiting task of the first non-empty queue to a worker, or None.

        One transaction: the worker row is locked first (lock order: worker, then task), the entry
        and its task are taken with SKIP LOCKED on PostgreSQL (under SQLite's single writer
        elsewhere), the entry is deleted and the task becomes in_progress on this worker.

        Raises:
            Conflict: the worker is unknown or gone (the agent registers again).
        """
        stamp = now()
        with self.db.write() as conn:
            worker = worker_store.get_worker(conn, worker_id, for_update=True)
            if not worker or worker["status"] != "active":
                state = "gone" if worker else "unknown"
                raise Conflict(f"Worker {worker_id} is {state}: register again (POST /workers).",
                               {"worker": worker_id, "status": state}, code="worker_gone")
            values: dict[str, Any] = {"last_heartbeat": stamp}
            taken: tuple[str, str] | None = None
            for queue_id in queue_ids:
                task_id = queue_store.next_entry(conn, queue_id)
                if task_id:
                    taken = (task_id, queue_id)
                    break
            if taken:
                self.tasks.start_on_worker(conn, taken[0], worker_id, worker["name"], stamp)
                values["current_task"] = taken[0]
            worker_store.update_worker(conn, worker_id, values)
        if not taken:
            return None
        return {"task": self.tasks.get(taken[0]), "queue": self.get(taken[1])}


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "task_id": row["task_id"], "queue": row["queue_id"], "priority": row["priority"], "enqueued": row["enqueued"],
        "task": {"id": row["task_id"], "name": row["task_name"], "project": row["project_name"],
                 "status": row["task_status"], "user": row["task_user"]},
    }
