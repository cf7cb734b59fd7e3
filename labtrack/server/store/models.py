"""Model rows: the registry (filtered, keyset-paged), tag rows, and task ↔ model links."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, insert, or_, select, update

from labtrack.server.store.tables import model_tags, models, projects, task_models, tasks

_COLUMNS = [*models.c, projects.c.name.label("project"), tasks.c.name.label("task_name")]
SORT_KEYS = ("created", "last_update", "name")


@dataclass
class ModelFilter:
    """What `GET /models` can filter on (already validated)."""

    project_id: str | None = None
    name: str | None = None
    search: str | None = None
    tags: list[str] = field(default_factory=list)
    frameworks: list[str] | None = None
    published: bool | None = None
    task_id: str | None = None


def _joined():  # type: ignore[no-untyped-def]
    return select(*_COLUMNS).select_from(
        models.join(projects, projects.c.id == models.c.project_id).outerjoin(tasks, tasks.c.id == models.c.task_id)
    )


def get(conn: Connection, model_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
    """One model with its project and creating task's names, or None."""
    query = _joined().where(models.c.id == model_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update(of=models)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def insert_model(conn: Connection, row: dict[str, Any], tags: list[str]) -> None:
    """Insert a model and its tag rows."""
    conn.execute(insert(models).values(**row))
    set_tags(conn, row["id"], tags)


def set_tags(conn: Connection, model_id: str, tags: list[str]) -> None:
    """Replace a model's tag rows (the tags also live as JSON on the row for cheap reads)."""
    conn.execute(delete(model_tags).where(model_tags.c.model_id == model_id))
    unique = list(dict.fromkeys(tags))
    if unique:
        conn.execute(insert(model_tags), [{"model_id": model_id, "tag": t} for t in unique])


def update_model(conn: Connection, model_id: str, values: dict[str, Any]) -> None:
    """Update columns of one model."""
    conn.execute(update(models).where(models.c.id == model_id).values(**values))


def delete_model(conn: Connection, model_id: str) -> None:
    """Delete a model with its tags and task links."""
    conn.execute(delete(task_models).where(task_models.c.model_id == model_id))
    conn.execute(delete(model_tags).where(model_tags.c.model_id == model_id))
    conn.execute(delete(models).where(models.c.id == model_id))


def list_models(
    conn: Connection, flt: ModelFilter, sort_key: str, descending: bool, after: tuple[Any, str] | None, limit: int
) -> list[dict[str, Any]]:
    """One page of models sorted by (sort_key, id)."""
    column = models.c[sort_key]
    query = _joined()
    if flt.project_id is not None:
        query = query.where(models.c.project_id == flt.project_id)
    if flt.name is not None:
        query = query.where(models.c.name == flt.name)
    if flt.search:
        query = query.where(func.lower(models.c.name).contains(flt.search.lower(), autoescape=True))
    for tag in flt.tags:
        query = query.where(exists().where(and_(model_tags.c.model_id == models.c.id, model_tags.c.tag == tag)))
    if flt.frameworks:
        query = query.where(models.c.framework.in_(flt.frameworks))
    if flt.published is not None:
        query = query.where(models.c.published == flt.published)
    if flt.task_id is not None:
        query = query.where(models.c.task_id == flt.task_id)
    if after is not None:
        value, last_id = after
        if descending:
            query = query.where(or_(column < value, and_(column == value, models.c.id < last_id)))
        else:
            query = query.where(or_(column > value, and_(column == value, models.c.id > last_id)))
    order = [column.desc(), models.c.id.desc()] if descending else [column.asc(), models.c.id.asc()]
    return [dict(r) for r in conn.execute(query.order_by(*order).limit(limit)).mappings()]


def set_link(conn: Connection, task_id: str, role: str, model_id: str, name: str, when: float) -> None:
    """Record (or refresh) that a task made (`output`) or used (`input`) a model."""
    conn.execute(delete(task_models).where(
        task_models.c.task_id == task_id, task_models.c.role == role, task_models.c.model_id == model_id
    ))
    conn.execute(insert(task_models).values(task_id=task_id, role=role, model_id=model_id, name=name, created=when))


def task_links(conn: Connection, task_id: str) -> list[dict[str, Any]]:
    """A task's input and output models (role, link name, recorded time, and the model's row)."""
    query = (
        select(task_models.c.role, task_models.c.name.label("link_name"), task_models.c.created.label("recorded"),
               *_COLUMNS)
        .select_from(
            task_models.join(models, models.c.id == task_models.c.model_id)
            .join(projects, projects.c.id == models.c.project_id)
            .outerjoin(tasks, tasks.c.id == models.c.task_id)
        )
        .where(task_models.c.task_id == task_id)
        .order_by(task_models.c.role, task_models.c.created, models.c.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def users_of(conn: Connection, model_id: str, limit: int) -> list[dict[str, Any]]:
    """Tasks that recorded this model as an input, newest first."""
    query = (
        select(tasks.c.id.label("task_id"), tasks.c.name, tasks.c.status, task_models.c.name.label("link_name"),
               task_models.c.created.label("recorded"))
        .select_from(task_models.join(tasks, tasks.c.id == task_models.c.task_id))
        .where(task_models.c.model_id == model_id, task_models.c.role == "input")
        .order_by(task_models.c.created.desc(), tasks.c.id.desc())
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def count_users(conn: Connection, model_id: str) -> int:
    """How many tasks recorded this model as an input."""
    return int(conn.execute(
        select(func.count()).where(task_models.c.model_id == model_id, task_models.c.role == "input")
    ).scalar_one())
