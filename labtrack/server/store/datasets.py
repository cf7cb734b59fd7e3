"""Dataset rows: versions, parents, manifests (one row per file), stored blobs, task inputs.

Batch-first: manifest changes arrive as lists and go in as executemany statements; manifest reads
are keyset pages by path, so a 100k-file version never loads whole.
"""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import Connection, and_, delete, func, insert, literal, select, update

from labtrack.server.store.tables import (
    dataset_blobs,
    dataset_files,
    dataset_parents,
    datasets,
    projects,
    task_datasets,
    tasks,
)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_COLUMNS = [*datasets.c, projects.c.name.label("project")]


def _joined():  # type: ignore[no-untyped-def]
    return select(*_COLUMNS).select_from(datasets.join(projects, projects.c.id == datasets.c.project_id))


def get(conn: Connection, dataset_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
    """One version with its project name, or None."""
    query = _joined().where(datasets.c.id == dataset_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update(of=datasets)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def parents_of(conn: Connection, dataset_ids: list[str]) -> dict[str, list[str]]:
    """Each version's parent ids, in the order they were given."""
    found: dict[str, list[str]] = {d: [] for d in dataset_ids}
    if not dataset_ids:
        return found
    rows = conn.execute(
        select(dataset_parents.c.dataset_id, dataset_parents.c.parent_id)
        .where(dataset_parents.c.dataset_id.in_(dataset_ids))
        .order_by(dataset_parents.c.dataset_id, dataset_parents.c.position)
    )
    for dataset_id, parent_id in rows:
        found[dataset_id].append(parent_id)
    return found


def children_of(conn: Connection, dataset_id: str) -> list[str]:
    """Ids of the versions that name this one as a parent."""
    rows = conn.execute(select(dataset_parents.c.dataset_id).where(dataset_parents.c.parent_id == dataset_id))
    return sorted(r[0] for r in rows)


def versions_of(conn: Connection, project_id: str, name: str) -> list[str]:
    """Every version string of a named dataset."""
    rows = conn.execute(select(datasets.c.version).where(datasets.c.project_id == project_id, datasets.c.name == name))
    return [r[0] for r in rows]


def insert_version(conn: Connection, row: dict[str, Any], parent_ids: list[str]) -> None:
    """Insert a version and its parent links."""
    conn.execute(insert(datasets).values(**row))
    if parent_ids:
        conn.execute(
            insert(dataset_parents),
            [{"dataset_id": row["id"], "parent_id": p, "position": i} for i, p in enumerate(parent_ids)],
        )


def copy_manifest(conn: Connection, source_id: str, target_id: str) -> None:
    """Copy every file entry of `source_id` into `target_id`, replacing paths it already has.

    Done in SQL (INSERT … SELECT) so a child of a 100k-file version costs one statement.
    """
    conn.execute(
        delete(dataset_files).where(
            dataset_files.c.dataset_id == target_id,
            dataset_files.c.path.in_(select(dataset_files.c.path).where(dataset_files.c.dataset_id == source_id)),
        )
    )
    conn.execute(
        insert(dataset_files).from_select(
            ["dataset_id", "path", "size", "sha256"],
            select(literal(target_id), dataset_files.c.path, dataset_files.c.size, dataset_files.c.sha256).where(
                dataset_files.c.dataset_id == source_id
            ),
        )
    )


def upsert_files(conn: Connection, dataset_id: str, entries: list[dict[str, Any]]) -> None:
    """Add or replace manifest entries (path → size, sha256)."""
    if not entries:
        return
    remove_files(conn, dataset_id, [e["path"] for e in entries])
    conn.execute(
        insert(dataset_files),
        [{"dataset_id": dataset_id, "path": e["path"], "size": e["size"], "sha256": e["sha256"]} for e in entries],
    )


def remove_files(conn: Connection, dataset_id: str, paths: list[str]) -> int:
    """Drop manifest entries by path; returns how many existed."""
    removed = 0
    for start in range(0, len(paths), 500):  # stay well under SQLite's bound-parameter limit
        chunk = paths[start : start + 500]
        removed += conn.execute(
            delete(dataset_files).where(dataset_files.c.dataset_id == dataset_id, dataset_files.c.path.in_(chunk))
        ).rowcount
    return removed


def refresh_totals(conn: Connection, dataset_id: str) -> tuple[int, int]:
    """Recount a version's files and bytes from its manifest and store them."""
    count, size = conn.execute(
        select(func.count(), func.coalesce(func.sum(dataset_files.c.size), 0)).where(dataset_files.c.dataset_id == dataset_id)
    ).one()
    conn.execute(update(datasets).where(datasets.c.id == dataset_id).values(file_count=count, total_size=size))
    return int(count), int(size)


def list_files(conn: Connection, dataset_id: str, after_path: str | None, prefix: str | None, limit: int) -> list[dict[str, Any]]:
    """A page of a version's manifest, ordered by path."""
    query = select(dataset_files.c.path, dataset_files.c.size, dataset_files.c.sha256).where(
        dataset_files.c.dataset_id == dataset_id
    )
    if after_path is not None:
        query = query.where(dataset_files.c.path > after_path)
    if prefix:
        query = query.where(dataset_files.c.path.like(_escape_like(prefix) + "%", escape="\\"))
    return [dict(r) for r in conn.execute(query.order_by(dataset_files.c.path).limit(limit)).mappings()]


def missing_blobs(conn: Connection, dataset_id: str, after_sha: str | None, limit: int) -> list[dict[str, Any]]:
    """Distinct hashes of a version's manifest with no stored blob, ordered by hash, with a size each."""
    query = (
        select(dataset_files.c.sha256, func.max(dataset_files.c.size).label("size"))
        .select_from(dataset_files.outerjoin(dataset_blobs, dataset_blobs.c.sha256 == dataset_files.c.sha256))
        .where(dataset_files.c.dataset_id == dataset_id, dataset_blobs.c.sha256.is_(None))
        .group_by(dataset_files.c.sha256)
    )
    if after_sha is not None:
        query = query.where(dataset_files.c.sha256 > after_sha)
    return [dict(r) for r in conn.execute(query.order_by(dataset_files.c.sha256).limit(limit)).mappings()]


def count_missing(conn: Connection, dataset_id: str) -> int:
    """How many distinct hashes of a version have no stored blob."""
    query = (
        select(func.count(func.distinct(dataset_files.c.sha256)))
        .select_from(dataset_files.outerjoin(dataset_blobs, dataset_blobs.c.sha256 == dataset_files.c.sha256))
        .where(dataset_files.c.dataset_id == dataset_id, dataset_blobs.c.sha256.is_(None))
    )
    return int(conn.execute(query).scalar_one())


def stored_among(conn: Connection, hashes: Iterable[str]) -> set[str]:
    """Which of these hashes have a stored blob."""
    wanted = list(set(hashes))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(r[0] for r in conn.execute(select(dataset_blobs.c.sha256).where(dataset_blobs.c.sha256.in_(chunk))))
    return found


def blob_size(conn: Connection, sha256: str) -> int | None:
    """The size of a stored blob, or None when it is not stored."""
    return conn.execute(select(dataset_blobs.c.size).where(dataset_blobs.c.sha256 == sha256)).scalar_one_or_none()


def record_blob(conn: Connection, sha256: str, size: int, when: float) -> None:
    """Note that a blob's bytes are stored (a second upload of the same bytes changes nothing)."""
    if blob_size(conn, sha256) is None:
        conn.execute(insert(dataset_blobs).values(sha256=sha256, size=size, created=when))


def expected_size(conn: Connection, sha256: str) -> int | None:
    """The size some manifest declares for a hash, or None when no manifest names it."""
    return conn.execute(
        select(dataset_files.c.size).where(dataset_files.c.sha256 == sha256).limit(1)
    ).scalar_one_or_none()


def finalize(conn: Connection, dataset_id: str, when: float) -> None:
    """Mark a version final."""
    conn.execute(update(datasets).where(datasets.c.id == dataset_id).values(state="final", finalized=when))


def update_version(conn: Connection, dataset_id: str, values: dict[str, Any]) -> None:
    """Update columns of a version."""
    conn.execute(update(datasets).where(datasets.c.id == dataset_id).values(**values))


def delete_version(conn: Connection, dataset_id: str) -> None:
    """Delete a version with its manifest and parent links (blobs stay: other versions share them)."""
    conn.execute(delete(dataset_files).where(dataset_files.c.dataset_id == dataset_id))
    conn.execute(delete(dataset_parents).where(dataset_parents.c.dataset_id == dataset_id))
    conn.execute(delete(task_datasets).where(task_datasets.c.dataset_id == dataset_id))
    conn.execute(delete(datasets).where(datasets.c.id == dataset_id))


def list_versions(
    conn: Connection, *, project_id: str | None, name: str | None, version: str | None, state: str | None,
    search: str | None, after: tuple[float, str] | None, limit: int,
) -> list[dict[str, Any]]:
    """Versions newest first (created, id), filtered."""
    query = _joined()
    if project_id is not None:
        query = query.where(datasets.c.project_id == project_id)
    if name is not None:
        query = query.where(datasets.c.name == name)
    if version is not None:
        query = query.where(datasets.c.version == version)
    if state is not None:
        query = query.where(datasets.c.state == state)
    if search:
        query = query.where(datasets.c.name.ilike(f"%{_escape_like(search)}%", escape="\\"))
    if after is not None:
        created, last_id = after
        query = query.where(
            (datasets.c.created < created) | and_(datasets.c.created == created, datasets.c.id < last_id)
        )
    query = query.order_by(datasets.c.created.desc(), datasets.c.id.desc()).limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]


def set_task_input(conn: Connection, task_id: str, alias: str, dataset_id: str, when: float) -> None:
    """Record (or re-point) a task's input dataset under an alias."""
    conn.execute(delete(task_datasets).where(task_datasets.c.task_id == task_id, task_datasets.c.alias == alias))
    conn.execute(insert(task_datasets).values(task_id=task_id, alias=alias, dataset_id=dataset_id, created=when))


def task_inputs(conn: Connection, task_id: str) -> list[dict[str, Any]]:
    """A task's input datasets by alias, with each version's names."""
    query = (
        select(task_datasets.c.alias, task_datasets.c.created.label("recorded"), *_COLUMNS)
        .select_from(
            task_datasets.join(datasets, datasets.c.id == task_datasets.c.dataset_id).join(
                projects, projects.c.id == datasets.c.project_id
            )
        )
        .where(task_datasets.c.task_id == task_id)
        .order_by(task_datasets.c.alias)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def users_of(conn: Connection, dataset_id: str, limit: int) -> list[dict[str, Any]]:
    """Tasks that recorded this version as an input (task id, name, alias), newest first."""
    query = (
        select(tasks.c.id.label("task_id"), tasks.c.name, task_datasets.c.alias, task_datasets.c.created.label("recorded"))
        .select_from(task_datasets.join(tasks, tasks.c.id == task_datasets.c.task_id))
        .where(task_datasets.c.dataset_id == dataset_id)
        .order_by(task_datasets.c.created.desc())
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(query).mappings()]
