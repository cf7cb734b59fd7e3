"""Queue rows and their entries: resolve, list, count, order, and take the next entry.

Pop order is `priority` descending, then `rank` ascending. An entry exists exactly while its task
is `queued`; `next_entry` locks the entry and its task together with SKIP LOCKED on PostgreSQL, so
concurrent pops never wait on each other and never take the same entry (SQLite has one writer).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, tuple_, update

from labtrack.server.store.tables import projects, queue_entries, queues, tasks, worker_queues, workers

ENTRY_ORDER = (queue_entries.c.priority.desc(), queue_entries.c.rank.asc(), queue_entries.c.task_id.asc())


def resolve(conn: Connection, ref: str, *, for_update: bool = False) -> dict[str, Any] | None:
    """The queue whose id (tried first) or name is `ref`, or None."""
    for column in (queues.c.id, queues.c.name):
        query = select(queues).where(column == ref)
        if for_update and conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        if row:
            return dict(row)
    return None


def insert_queue(conn: Connection, row: dict[str, Any]) -> None:
    """Insert a queue (IntegrityError when the name exists)."""
    conn.execute(insert(queues).values(**row))


def delete_queue(conn: Connection, queue_id: str) -> None:
    """Delete a queue with its entries and worker subscriptions (tasks are the caller's business)."""
    conn.execute(delete(queue_entries).where(queue_entries.c.queue_id == queue_id))
    conn.execute(delete(worker_queues).where(worker_queues.c.queue_id == queue_id))
    conn.execute(delete(queues).where(queues.c.id == queue_id))


def list_queues(conn: Connection, name: str | None, after: str | None, limit: int) -> list[dict[str, Any]]:
    """Queues sorted by name, after the name `after` (keyset paging)."""
    query = select(queues)
    if name is not None:
        query = query.where(queues.c.name == name)
    if after is not None:
        query = query.where(queues.c.name > after)
    return [dict(r) for r in conn.execute(query.order_by(queues.c.name).limit(limit)).mappings()]


def pending_counts(conn: Connection, queue_ids: list[str]) -> dict[str, int]:
    """How many entries each queue holds."""
    query = (select(queue_entries.c.queue_id, func.count()).where(queue_entries.c.queue_id.in_(queue_ids))
             .group_by(queue_entries.c.queue_id))
    counts = {qid: 0 for qid in queue_ids}
    counts.update({row[0]: row[1] for row in conn.execute(query)})
    return counts


def serving_workers(conn: Connection, queue_ids: list[str]) -> dict[str, list[str]]:
    """Ids of the active workers that pull each queue, by name."""
    query = (
        select(worker_queues.c.queue_id, workers.c.id)
        .join(workers, workers.c.id == worker_queues.c.worker_id)
        .where(worker_queues.c.queue_id.in_(queue_ids), workers.c.status == "active")
        .order_by(workers.c.name, workers.c.id)
    )
    out: dict[str, list[str]] = {qid: [] for qid in queue_ids}
    for queue_id, worker_id in conn.execute(query):
        out[queue_id].append(worker_id)
    return out


def _entry_query():  # type: ignore[no-untyped-def]
    return (
        select(queue_entries, tasks.c.name.label("task_name"), tasks.c.status.label("task_status"),
               tasks.c.user.label("task_user"), projects.c.name.label("project_name"))
        .join(tasks, tasks.c.id == queue_entries.c.task_id)
        .join(projects, projects.c.id == tasks.c.project_id)
    )


def list_entries(conn: Connection, queue_id: str, after: tuple[int, int, str] | None, limit: int) -> list[dict[str, Any]]:
    """Entries of a queue in pop order (with their task's name, status, user and project)."""
    query = _entry_query().where(queue_entries.c.queue_id == queue_id)
    if after is not None:
        priority, rank, task_id = after
        query = query.where(or_(
            queue_entries.c.priority < priority,
            and_(queue_entries.c.priority == priority,
                 tuple_(queue_entries.c.rank, queue_entries.c.task_id) > tuple_(rank, task_id)),
        ))
    return [dict(r) for r in conn.execute(query.order_by(*ENTRY_ORDER).limit(limit)).mappings()]


def get_entry(conn: Connection, task_id: str) -> dict[str, Any] | None:
    """The entry of a queued task (with its task summary), or None."""
    row = conn.execute(_entry_query().where(queue_entries.c.task_id == task_id)).mappings().first()
    return dict(row) if row else None


def insert_entry(conn: Connection, task_id: str, queue_id: str, priority: int, enqueued: float) -> None:
    """Put a task at the end of its priority in a queue."""
    last = conn.execute(select(func.max(queue_entries.c.rank)).where(queue_entries.c.queue_id == queue_id)).scalar()
    conn.execute(insert(queue_entries).values(task_id=task_id, queue_id=queue_id, priority=priority,
                                              rank=(last or 0) + 1, enqueued=enqueued))


def delete_entry(conn: Connection, task_id: str) -> int:
    """Remove a task's entry (if any); returns how many rows went."""
    return conn.execute(delete(queue_entries).where(queue_entries.c.task_id == task_id)).rowcount


def update_entry(conn: Connection, task_id: str, values: dict[str, Any]) -> None:
    """Change an entry's priority and/or rank."""
    conn.execute(update(queue_entries).where(queue_entries.c.task_id == task_id).values(**values))


def entry_order(conn: Connection, queue_id: str) -> list[tuple[str, int]]:
    """(task id, priority) of every entry of a queue, in pop order (for moves that renumber)."""
    query = (select(queue_entries.c.task_id, queue_entries.c.priority)
             .where(queue_entries.c.queue_id == queue_id).order_by(*ENTRY_ORDER))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return [(r[0], r[1]) for r in conn.execute(query)]


def set_ranks(conn: Connection, ranks: list[tuple[str, int, int]]) -> None:
    """Write (task id, priority, rank) for many entries."""
    for task_id, priority, rank in ranks:
        conn.execute(update(queue_entries).where(queue_entries.c.task_id == task_id)
                     .values(priority=priority, rank=rank))


def lock_waiting_tasks(conn: Connection, queue_id: str) -> list[str]:
    """Ids of the tasks waiting in a queue, their rows locked on PostgreSQL.

    Task rows first, as status actions lock them: a pop that takes one of them meanwhile commits
    first, and the row, no longer queued here, drops out of the answer.
    """
    query = select(tasks.c.id).where(tasks.c.queue == queue_id, tasks.c.status == "queued")
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return list(conn.execute(query).scalars())


def any_pending(conn: Connection, queue_ids: list[str]) -> bool:
    """Whether any of the queues holds an entry (a cheap read before a pop takes the write lock)."""
    query = select(queue_entries.c.task_id).where(queue_entries.c.queue_id.in_(queue_ids)).limit(1)
    return conn.execute(query).first() is not None


def next_entry(conn: Connection, queue_id: str) -> str | None:
    """Lock and return the task id of the queue's first entry, skipping entries others hold.

    On PostgreSQL the entry and its task row are locked together with SKIP LOCKED: a concurrent
    pop moves on to the next entry instead of waiting, and a status action holding the task row
    (stop, dequeue) makes the pop pass that task by rather than deadlock with it.
    """
    query = (select(queue_entries.c.task_id)
             .join(tasks, tasks.c.id == queue_entries.c.task_id)
             .where(queue_entries.c.queue_id == queue_id)
             .order_by(*ENTRY_ORDER).limit(1))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=[queue_entries, tasks])
    return conn.execute(query).scalar()
