"""Artifact rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from labtrack.server.store.tables import artifacts


def get(conn: Connection, task_id: str, key: str) -> dict[str, Any] | None:
    """One artifact row or None."""
    row = conn.execute(select(artifacts).where(artifacts.c.task_id == task_id, artifacts.c.key == key)).mappings().first()
    return dict(row) if row else None


def upsert(conn: Connection, row: dict[str, Any]) -> None:
    """Insert or replace an artifact row (re-uploading a key replaces it)."""
    conn.execute(delete(artifacts).where(artifacts.c.task_id == row["task_id"], artifacts.c.key == row["key"]))
    conn.execute(insert(artifacts).values(**row))


def update_row(conn: Connection, task_id: str, key: str, values: dict[str, Any]) -> None:
    """Update columns of an artifact."""
    conn.execute(update(artifacts).where(artifacts.c.task_id == task_id, artifacts.c.key == key).values(**values))


def list_for_task(conn: Connection, task_id: str, after_key: str | None, limit: int) -> list[dict[str, Any]]:
    """Artifacts of a task ordered by key."""
    query = select(artifacts).where(artifacts.c.task_id == task_id)
    if after_key is not None:
        query = query.where(artifacts.c.key > after_key)
    return [dict(r) for r in conn.execute(query.order_by(artifacts.c.key).limit(limit)).mappings()]


def delete_row(conn: Connection, task_id: str, key: str) -> bool:
    """Delete one artifact row; False when missing."""
    return conn.execute(delete(artifacts).where(artifacts.c.task_id == task_id, artifacts.c.key == key)).rowcount > 0
