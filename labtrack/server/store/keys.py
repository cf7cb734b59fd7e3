"""API key rows: hashed secrets, owner, role, revocation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from labtrack.server.store.tables import api_keys

_PUBLIC = (api_keys.c.id, api_keys.c.user, api_keys.c.role, api_keys.c.description, api_keys.c.created)


def insert_key(
    conn: Connection, *, key_id: str, user: str, role: str, description: str, key_hash: str, created: float
) -> None:
    """Store a new key (hash only)."""
    conn.execute(
        insert(api_keys).values(
            id=key_id, user=user, role=role, description=description, key_hash=key_hash, created=created
        )
    )


def find_active_by_hash(conn: Connection, key_hash: str) -> dict[str, Any] | None:
    """The active key with this hash, or None."""
    row = conn.execute(
        select(api_keys).where(api_keys.c.key_hash == key_hash, api_keys.c.revoked.is_(None))
    ).mappings().first()
    return dict(row) if row else None


def find_by_hash(conn: Connection, key_hash: str) -> dict[str, Any] | None:
    """A key with this hash whether revoked or not."""
    row = conn.execute(select(api_keys).where(api_keys.c.key_hash == key_hash)).mappings().first()
    return dict(row) if row else None


def get_active(conn: Connection, key_id: str) -> dict[str, Any] | None:
    """An active key by id (without its hash), or None."""
    row = conn.execute(select(*_PUBLIC).where(api_keys.c.id == key_id, api_keys.c.revoked.is_(None))).mappings().first()
    return dict(row) if row else None


def lock_active_ids(conn: Connection, role: str) -> list[str]:
    """Ids of the active keys with `role`, row-locked until the transaction ends (PostgreSQL).

    Two admins revoking each other at once both lock this set in the same order; the second
    waits, then re-reads it without the key the first revoked, so at least one admin remains.
    On SQLite the write transaction already holds the database's write lock.
    """
    query = (
        select(api_keys.c.id)
        .where(api_keys.c.role == role, api_keys.c.revoked.is_(None))
        .order_by(api_keys.c.id)
        .with_for_update()
    )
    return list(conn.execute(query).scalars())


def has_active(conn: Connection, role: str) -> bool:
    """Whether any active key has `role`."""
    query = select(api_keys.c.id).where(api_keys.c.role == role, api_keys.c.revoked.is_(None)).limit(1)
    return conn.execute(query).first() is not None


def list_keys(conn: Connection, *, limit: int, after_id: str | None) -> list[dict[str, Any]]:
    """Active keys ordered by id, without hashes."""
    query = select(*_PUBLIC).where(api_keys.c.revoked.is_(None))
    if after_id:
        query = query.where(api_keys.c.id > after_id)
    return [dict(r) for r in conn.execute(query.order_by(api_keys.c.id).limit(limit)).mappings()]


def revoke_key(conn: Connection, key_id: str, when: float) -> bool:
    """Mark a key revoked; False when there is no such active key."""
    result = conn.execute(
        update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked.is_(None)).values(revoked=when)
    )
    return result.rowcount > 0
