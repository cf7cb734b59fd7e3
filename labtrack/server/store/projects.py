"""Project rows and their task counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from labtrack.server.store.tables import projects, tasks


def _with_counts():  # type: ignore[no-untyped-def]
    count = select(func.count()).where(tasks.c.project_id == projects.c.id).scalar_subquery()
    return select(projects, count.label("task_count"))


def get(conn: Connection, project_id: str) -> dict[str, Any] | None:
    """A project with its task count, or None."""
    row = conn.execute(_with_counts().where(projects.c.id == project_id)).mappings().first()
    return dict(row) if row else None


def get_by_name(conn: Connection, name: str) -> dict[str, Any] | None:
    """A project by exact name, or None."""
    row = conn.execute(_with_counts().where(projects.c.name == name)).mappings().first()
    return dict(row) if row else None


def insert_project(conn: Connection, *, project_id: str, name: str, description: str, created: float) -> None:
    """Insert a project row (IntegrityError when the name exists)."""
    conn.execute(insert(projects).values(id=project_id, name=name, description=description, created=created))


def list_projects(conn: Connection, *, search: str | None, after_name: str | None, limit: int) -> list[dict[str, Any]]:
    """Projects sorted by name, optionally filtered by a case-insensitive substring."""
    query = _with_counts()
    if search:
        query = query.where(func.lower(projects.c.name).contains(search.lower(), autoescape=True))
    if after_name is not None:
        query = query.where(projects.c.name > after_name)
    return [dict(r) for r in conn.execute(query.order_by(projects.c.name).limit(limit)).mappings()]


def update_project(conn: Connection, project_id: str, values: dict[str, Any]) -> None:
    """Update columns of a project."""
    conn.execute(update(projects).where(projects.c.id == project_id).values(**values))


def delete_project(conn: Connection, project_id: str) -> None:
    """Delete a project row."""
    conn.execute(delete(projects).where(projects.c.id == project_id))
