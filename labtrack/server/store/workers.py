"""Worker rows (agents): register, read, heartbeat, mark gone, and fail the tasks a gone worker ran.

Lock order, everywhere a transaction touches both: the worker row first, then task rows (a pop,
a heartbeat, an unregister and the lost-worker sweep all follow it, so none deadlocks another).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, tuple_, update

from labtrack.server.store.tables import tasks, worker_queues, workers


def insert_worker(conn: Connection, row: dict[str, Any], queue_ids: list[str]) -> None:
    """Insert an active worker and the queues it pulls, in order (IntegrityError: name taken)."""
    conn.execute(insert(workers).values(**row))
    if queue_ids:
        conn.execute(insert(worker_queues),
                     [{"worker_id": row["id"], "queue_id": qid, "position": i} for i, qid in enumerate(queue_ids)])


def get_worker(conn: Connection, worker_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
    """A worker row, or None."""
    query = select(workers).where(workers.c.id == worker_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def active_by_name(conn: Connection, name: str) -> dict[str, Any] | None:
    """The active worker of that name, locked on PostgreSQL, or None."""
    query = select(workers).where(workers.c.name == name, workers.c.status == "active")
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def list_workers(conn: Connection, statuses: list[str], after: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]:
    """Workers of the given statuses sorted by (name, id), after a keyset position."""
    query = select(workers).where(workers.c.status.in_(statuses))
    if after is not None:
        query = query.where(tuple_(workers.c.name, workers.c.id) > tuple_(*after))
    return [dict(r) for r in conn.execute(query.order_by(workers.c.name, workers.c.id).limit(limit)).mappings()]


def queue_ids_of(conn: Connection, worker_ids: list[str]) -> dict[str, list[str]]:
    """The queue ids each worker pulls, in its order."""
    out: dict[str, list[str]] = {wid: [] for wid in worker_ids}
    query = (select(worker_queues.c.worker_id, worker_queues.c.queue_id)
             .where(worker_queues.c.worker_id.in_(worker_ids)).order_by(worker_queues.c.position))
    for worker_id, queue_id in conn.execute(query):
        out[worker_id].append(queue_id)
    return out


def task_summaries(conn: Connection, task_ids: list[str]) -> dict[str, dict[str, Any]]:
    """{id, name, status} of the given tasks (those that still exist)."""
    if not task_ids:
        return {}
    query = select(tasks.c.id, tasks.c.name, tasks.c.status).where(tasks.c.id.in_(task_ids))
    return {r["id"]: dict(r) for r in conn.execute(query).mappings()}


def update_worker(conn: Connection, worker_id: str, values: dict[str, Any]) -> None:
    """Change columns of one worker."""
    conn.execute(update(workers).where(workers.c.id == worker_id).values(**values))


def silent_worker_ids(conn: Connection, cutoff: float) -> list[str]:
    """Active workers whose last heartbeat is older than `cutoff` (locked on PostgreSQL)."""
    query = select(workers.c.id).where(workers.c.status == "active", workers.c.last_heartbeat < cutoff)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(conn.execute(query).scalars())


def mark_gone(conn: Connection, worker_ids: list[str]) -> None:
    """Workers → gone (they keep their record; the name is free again)."""
    if worker_ids:
        conn.execute(update(workers).where(workers.c.id.in_(worker_ids)).values(status="gone"))


def fail_running_tasks(conn: Connection, worker_ids: list[str], when: float, reason: str, message: str) -> int:
    """Fail the in-progress tasks of the given workers; returns how many."""
    if not worker_ids:
        return 0
    result = conn.execute(
        update(tasks)
        .where(tasks.c.worker.in_(worker_ids), tasks.c.status == "in_progress")
        .values(status="failed", status_reason=reason, status_message=message, completed=when, last_update=when,
                stop_requested=False)
    )
    return result.rowcount


def prune_gone(conn: Connection, cutoff: float) -> int:
    """Delete gone workers last heard of before `cutoff` (their tasks keep the worker id)."""
    old = select(workers.c.id).where(workers.c.status == "gone", workers.c.last_heartbeat < cutoff)
    conn.execute(delete(worker_queues).where(worker_queues.c.worker_id.in_(old)))
    return conn.execute(delete(workers).where(workers.c.status == "gone", workers.c.last_heartbeat < cutoff)).rowcount
