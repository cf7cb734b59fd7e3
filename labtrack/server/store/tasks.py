"""Task rows: insert, read, filter/sort/keyset-page, update, delete with everything they own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, insert, literal, or_, select, tuple_, update
from sqlalchemy.sql import ColumnElement

from labtrack.server.store.tables import (
    artifacts,
    event_batches,
    events,
    metric_series,
    projects,
    queue_entries,
    scalar_blocks,
    scalars,
    task_tags,
    tasks,
)

LIST_COLUMNS = [c for c in tasks.c if c.name not in ("script", "configuration")]
_BIG_INT = 2**62
_BIG_FLOAT = 1e300


@dataclass
class TaskFilter:
    """Everything `GET /tasks` can filter on (already validated)."""

    project_ids: list[str] | None = None
    project_name: str | None = None
    include_subprojects: bool = False
    statuses: list[str] | None = None
    types: list[str] | None = None
    tags: list[str] = field(default_factory=list)
    search: str | None = None
    created_after: float | None = None
    created_before: float | None = None
    updated_after: float | None = None
    updated_before: float | None = None
    archived: bool | None = False
    ids: list[str] | None = None
    user: str | None = None
    queue_id: str | None = None
    worker: str | None = None


@dataclass
class TaskSort:
    """A sort key: a column name or a metric/variant last value, ascending or descending."""

    key: str = "created"
    descending: bool = True
    metric: str | None = None
    variant: str | None = None


def insert_task(conn: Connection, row: dict[str, Any], tags: list[str]) -> None:
    """Insert a task and its tag rows."""
    conn.execute(insert(tasks).values(**row))
    set_tags(conn, row["id"], tags)


def set_tags(conn: Connection, task_id: str, tags: list[str]) -> None:
    """Replace the tag rows of a task (tags also live as JSON on the task for cheap reads)."""
    conn.execute(delete(task_tags).where(task_tags.c.task_id == task_id))
    unique = list(dict.fromkeys(tags))
    if unique:
        conn.execute(insert(task_tags), [{"task_id": task_id, "tag": t} for t in unique])


def get_row(conn: Connection, task_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
    """A task row joined with its project name, or None."""
    query = select(tasks, projects.c.name.label("project_name")).join(projects, projects.c.id == tasks.c.project_id)
    query = query.where(tasks.c.id == task_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update(of=tasks)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def status_of(conn: Connection, task_id: str) -> tuple[str, bool] | None:
    """(status, stop_requested) of a task, or None when it does not exist."""
    row = conn.execute(select(tasks.c.status, tasks.c.stop_requested).where(tasks.c.id == task_id)).first()
    return (row[0], bool(row[1])) if row else None


def update_task(conn: Connection, task_id: str, values: dict[str, Any]) -> int:
    """Update columns of one task; returns the number of rows changed."""
    return conn.execute(update(tasks).where(tasks.c.id == task_id).values(**values)).rowcount


def touch(conn: Connection, task_id: str, when: float) -> None:
    """Record contact from the task's process (drives the lost-contact watchdog)."""
    conn.execute(update(tasks).where(tasks.c.id == task_id).values(last_update=when))


def _sort_expression(sort: TaskSort) -> ColumnElement:
    if sort.key == "metric":
        sentinel = -_BIG_FLOAT if sort.descending else _BIG_FLOAT
        return func.coalesce(metric_series.c.last, literal(sentinel))
    column = tasks.c[sort.key]
    if sort.key == "started":
        return func.coalesce(column, literal(-_BIG_FLOAT if sort.descending else _BIG_FLOAT))
    if sort.key == "last_iteration":
        return func.coalesce(column, literal(-_BIG_INT if sort.descending else _BIG_INT))
    return column


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _apply_filter(query, flt: TaskFilter):  # type: ignore[no-untyped-def]
    c = tasks.c
    if flt.project_ids is not None:
        query = query.where(c.project_id.in_(flt.project_ids))
    if flt.project_name is not None:
        names = projects.c.name == flt.project_name
        if flt.include_subprojects:
            names = or_(names, projects.c.name.like(_escape_like(flt.project_name) + "/%", escape="\\"))
        query = query.where(c.project_id.in_(select(projects.c.id).where(names)))
    if flt.statuses:
        query = query.where(c.status.in_(flt.statuses))
    if flt.types:
        query = query.where(c.type.in_(flt.types))
    for tag in flt.tags:
        query = query.where(exists().where(and_(task_tags.c.task_id == c.id, task_tags.c.tag == tag)))
    if flt.search:
        query = query.where(func.lower(c.name).contains(flt.search.lower(), autoescape=True))
    if flt.created_after is not None:
        query = query.where(c.created >= flt.created_after)
    if flt.created_before is not None:
        query = query.where(c.created <= flt.created_before)
    if flt.updated_after is not None:
        query = query.where(c.last_update >= flt.updated_after)
    if flt.updated_before is not None:
        query = query.where(c.last_update <= flt.updated_before)
    if flt.archived is not None:
        query = query.where(c.archived == flt.archived)
    if flt.ids is not None:
        query = query.where(c.id.in_(flt.ids))
    if flt.user is not None:
        query = query.where(c.user == flt.user)
    if flt.queue_id is not None:
        query = query.where(c.queue == flt.queue_id)
    if flt.worker is not None:
        query = query.where(c.worker == flt.worker)
    return query


def list_tasks(
    conn: Connection, flt: TaskFilter, sort: TaskSort, after: tuple[Any, str] | None, limit: int
) -> list[dict[str, Any]]:
    """One page of tasks (list columns only) plus `_sort_value` for the next cursor."""
    expr = _sort_expression(sort)
    query = select(*LIST_COLUMNS, projects.c.name.label("project_name"), expr.label("_sort_value")).join(
        projects, projects.c.id == tasks.c.project_id
    )
    if sort.key == "metric":
        query = query.outerjoin(
            metric_series,
            and_(
                metric_series.c.task_id == tasks.c.id,
                metric_series.c.metric == sort.metric,
                metric_series.c.variant == sort.variant,
            ),
        )
    query = _apply_filter(query, flt)
    if after is not None:
        key = tuple_(expr, tasks.c.id)
        query = query.where(key < tuple_(literal(after[0]), literal(after[1])) if sort.descending else key > tuple_(literal(after[0]), literal(after[1])))
    order = [expr.desc(), tasks.c.id.desc()] if sort.descending else [expr.asc(), tasks.c.id.asc()]
    return [dict(r) for r in conn.execute(query.order_by(*order).limit(limit)).mappings()]


def count_in_project(conn: Connection, project_id: str) -> int:
    """How many tasks a project holds."""
    return conn.execute(select(func.count()).where(tasks.c.project_id == project_id)).scalar_one()


def metric_summaries(conn: Connection, task_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Per-task metric summaries (last/min/max/count/last_iteration) for the given tasks."""
    out: dict[str, list[dict[str, Any]]] = {tid: [] for tid in task_ids}
    if not task_ids:
        return out
    query = select(
        metric_series.c.task_id,
        metric_series.c.metric,
        metric_series.c.variant,
        metric_series.c.count,
        metric_series.c.last,
        metric_series.c.min,
        metric_series.c.max,
        metric_series.c.last_iteration,
    ).where(metric_series.c.task_id.in_(task_ids))
    for row in conn.execute(query.order_by(metric_series.c.metric, metric_series.c.variant)).mappings():
        out[row["task_id"]].append(dict(row))
    return out


def delete_task_data(conn: Connection, task_id: str) -> None:
    """Delete every event, metric, batch record and artifact row of a task (the task row stays)."""
    series_ids = select(metric_series.c.id).where(metric_series.c.task_id == task_id).scalar_subquery()
    conn.execute(delete(scalars).where(scalars.c.series_id.in_(series_ids)))
    conn.execute(delete(scalar_blocks).where(scalar_blocks.c.series_id.in_(series_ids)))
    conn.execute(delete(metric_series).where(metric_series.c.task_id == task_id))
    conn.execute(delete(events).where(events.c.task_id == task_id))
    conn.execute(delete(event_batches).where(event_batches.c.task_id == task_id))
    conn.execute(delete(artifacts).where(artifacts.c.task_id == task_id))


def delete_task(conn: Connection, task_id: str) -> None:
    """Delete a task and everything it owns."""
    delete_task_data(conn, task_id)
    conn.execute(delete(queue_entries).where(queue_entries.c.task_id == task_id))
    conn.execute(delete(task_tags).where(task_tags.c.task_id == task_id))
    conn.execute(delete(tasks).where(tasks.c.id == task_id))


def fail_silent_tasks(conn: Connection, cutoff: float, when: float, reason: str, message: str) -> int:
    """Mark in-progress tasks whose last contact is older than `cutoff` as failed (lost contact)."""
    result = conn.execute(
        update(tasks)
        .where(tasks.c.status == "in_progress", tasks.c.last_update < cutoff)
        .values(status="failed", status_reason=reason, status_message=message, completed=when,
                stop_requested=False)
    )
    return result.rowcount
