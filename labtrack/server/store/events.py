"""Event storage: batch records, series summaries, scalar points (bulk), other events, reads."""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import BigInteger, Connection, and_, func, literal_column, select
from sqlalchemy.exc import IntegrityError

from labtrack.server.store.tables import BLOCK_SIZE, events, metric_series, scalar_blocks, scalars


def _int(value: int):  # type: ignore[no-untyped-def]
    """An integer rendered inline: PostgreSQL only matches a GROUP BY expression to the select list
    when both are textually identical, which separate bind parameters are not."""
    return literal_column(str(int(value)), BigInteger())


# The ingest path runs a handful of fixed statements per batch; they are plain SQL so a small
# batch does not pay for statement construction and caching (Core costs ~0.1 ms per statement).


def _sql(conn: Connection, sql: str) -> str:
    """Adapt '?' placeholders to the driver's style (psycopg takes %s)."""
    return sql if conn.dialect.name == "sqlite" else sql.replace("?", "%s")


def find_batch(conn: Connection, task_id: str, batch_id: str) -> int | None:
    """How many events a stored batch had, or None if this batch id is new for the task."""
    row = conn.exec_driver_sql(
        _sql(conn, "SELECT accepted FROM event_batches WHERE task_id = ? AND batch_id = ?"), (task_id, batch_id)
    ).first()
    return row[0] if row else None


def record_batch(conn: Connection, task_id: str, batch_id: str, accepted: int, when: float) -> None:
    """Remember a batch id (raises IntegrityError when a concurrent request stored it first)."""
    conn.exec_driver_sql(
        _sql(conn, "INSERT INTO event_batches (task_id, batch_id, accepted, created) VALUES (?, ?, ?, ?)"),
        (task_id, batch_id, accepted, when),
    )


def series_summary(conn: Connection, task_id: str, metric: str, variant: str) -> dict[str, Any] | None:
    """The summary row of one series of a task, or None."""
    row = conn.exec_driver_sql(
        _sql(conn, "SELECT id, count, last, min, max, last_iteration FROM metric_series "
                   "WHERE task_id = ? AND metric = ? AND variant = ?"),
        (task_id, metric, variant),
    ).first()
    if row is None:
        return None
    return {"id": row[0], "count": row[1], "last": row[2], "min": row[3], "max": row[4], "last_iteration": row[5]}


def create_series(conn: Connection, task_id: str, metric: str, variant: str) -> int:
    """Insert an empty series summary row and return its id."""
    row = conn.exec_driver_sql(
        _sql(conn, "INSERT INTO metric_series (task_id, metric, variant, count) VALUES (?, ?, ?, 0) RETURNING id"),
        (task_id, metric, variant),
    ).first()
    return int(row[0])  # type: ignore[index]


def save_summary(conn: Connection, series_id: int, values: dict[str, Any]) -> None:
    """Write a series' merged running summary."""
    conn.exec_driver_sql(
        _sql(conn, "UPDATE metric_series SET count = ?, last = ?, min = ?, max = ?, last_iteration = ? WHERE id = ?"),
        (values["count"], values["last"], values["min"], values["max"], values["last_iteration"], series_id),
    )


def task_state_for_ingest(conn: Connection, task_id: str) -> tuple[str, bool] | None:
    """(status, stop_requested), taking the task's row lock on PostgreSQL so concurrent batches of
    one task queue up instead of racing on its series rows (SQLite writers are serialized anyway)."""
    sql = "SELECT status, stop_requested FROM tasks WHERE id = ?"
    if conn.dialect.name == "postgresql":
        sql += " FOR UPDATE"
    row = conn.exec_driver_sql(_sql(conn, sql), (task_id,)).first()
    return (row[0], bool(row[1])) if row else None


def record_progress(conn: Connection, task_id: str, when: float, max_iteration: int | None) -> None:
    """Touch the task and raise its last_iteration to `max_iteration` if that is higher."""
    if max_iteration is None:
        conn.exec_driver_sql(_sql(conn, "UPDATE tasks SET last_update = ? WHERE id = ?"), (when, task_id))
        return
    conn.exec_driver_sql(
        _sql(conn, "UPDATE tasks SET last_update = ?, last_iteration = CASE WHEN last_iteration IS NULL "
                   "OR last_iteration < ? THEN ? ELSE last_iteration END WHERE id = ?"),
        (when, max_iteration, max_iteration, task_id),
    )


def insert_points(conn: Connection, rows: Iterable[tuple[int, int, float | None, float]]) -> None:
    """Bulk insert (series_id, iteration, value, time) rows straight from an iterator: one
    executemany (SQLite) or COPY (PostgreSQL), no per-row objects."""
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy("COPY scalars (series_id, iteration, value, time) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    # The DB-API cursor directly: it takes an iterator, which SQLAlchemy's executemany would copy.
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany("INSERT INTO scalars (series_id, iteration, value, time) VALUES (?, ?, ?, ?)", rows)
    finally:
        cursor.close()


def refresh_blocks(conn: Connection, series_id: int, first_iteration: int, last_iteration: int) -> None:
    """Recompute the rollup blocks that a batch touched, from the points themselves."""
    lo_block, hi_block = first_iteration // BLOCK_SIZE, last_iteration // BLOCK_SIZE
    block = (scalars.c.iteration // _int(BLOCK_SIZE)).label("block")
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
    source = (
        select(
            scalars.c.series_id,
            block,
            func.count().label("count"),
            func.min(scalars.c.value).label("min"),
            func.max(scalars.c.value).label("max"),
            func.max(scalars.c.iteration).label("last_iteration"),
        )
        .where(
            scalars.c.series_id == series_id,
            scalars.c.iteration >= lo_block * BLOCK_SIZE,
            scalars.c.iteration < (hi_block + 1) * BLOCK_SIZE,
        )
        .group_by(scalars.c.series_id, block)
    )
    stmt = upsert(scalar_blocks).from_select(["series_id", "block", "count", "min", "max", "last_iteration"], source)
    stmt = stmt.on_conflict_do_update(
        index_elements=[scalar_blocks.c.series_id, scalar_blocks.c.block],
        set_={
            "count": stmt.excluded["count"],
            "min": stmt.excluded["min"],
            "max": stmt.excluded["max"],
            "last_iteration": stmt.excluded["last_iteration"],
        },
    )
    conn.execute(stmt)


def merge_blocks(conn: Connection, rows: list[tuple[int, int, int, float | None, float | None, int]]) -> None:
    """Fold per-block aggregates of new points, (series_id, block, count, min, max, last_iteration),
    into the rollup: counts add up, min/max/last_iteration combine (NULL means no finite value)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        sql = (
            "INSERT INTO scalar_blocks (series_id, block, count, min, max, last_iteration) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (series_id, block) DO UPDATE SET count = scalar_blocks.count + excluded.count, "
            "min = LEAST(scalar_blocks.min, excluded.min), max = GREATEST(scalar_blocks.max, excluded.max), "
            "last_iteration = GREATEST(scalar_blocks.last_iteration, excluded.last_iteration)"
        )
    else:
        # SQLite's two-argument min()/max() return NULL if either is NULL, hence the coalesces.
        sql = (
            "INSERT INTO scalar_blocks (series_id, block, count, min, max, last_iteration) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (series_id, block) DO UPDATE SET count = count + excluded.count, "
            "min = min(coalesce(min, excluded.min), coalesce(excluded.min, min)), "
            "max = max(coalesce(max, excluded.max), coalesce(excluded.max, max)), "
            "last_iteration = max(last_iteration, excluded.last_iteration)"
        )
    conn.exec_driver_sql(sql, rows)  # type: ignore[arg-type]


_EVENT_COLUMNS = ("task_id", "kind", "metric", "variant", "iteration", "time", "stream", "payload")


def insert_events(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Bulk insert non-scalar events (console lines, plots, tables, images)."""
    if rows:
        sql = f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(_EVENT_COLUMNS))})"
        conn.exec_driver_sql(_sql(conn, sql), [tuple(r[c] for c in _EVENT_COLUMNS) for r in rows])


# -- reads ---------------------------------------------------------------------------------


def list_series(conn: Connection, task_id: str) -> list[dict[str, Any]]:
    """Every series of a task with its summary."""
    query = select(metric_series).where(metric_series.c.task_id == task_id)
    return [dict(r) for r in conn.execute(query.order_by(metric_series.c.metric, metric_series.c.variant)).mappings()]


def find_series(conn: Connection, task_ids: list[str], metric: str, variant: str | None) -> list[dict[str, Any]]:
    """Series of the given tasks for one metric (one variant, or all when None)."""
    query = select(metric_series).where(metric_series.c.task_id.in_(task_ids), metric_series.c.metric == metric)
    if variant is not None:
        query = query.where(metric_series.c.variant == variant)
    return [dict(r) for r in conn.execute(query.order_by(metric_series.c.variant)).mappings()]


def iteration_range(conn: Connection, series_id: int) -> tuple[int | None, int | None]:
    """Smallest and largest iteration stored for a series (index lookups)."""
    # Two queries on purpose: SQLite answers a lone min() or max() with one index seek, but
    # scans the whole series when both share a query.
    where = scalars.c.series_id == series_id
    lo = conn.execute(select(func.min(scalars.c.iteration)).where(where)).scalar()
    hi = conn.execute(select(func.max(scalars.c.iteration)).where(where)).scalar()
    return lo, hi


def raw_points(
    conn: Connection, series_id: int, start: int | None, end: int | None, after: tuple[int, int] | None, limit: int
) -> list[tuple[int, int, float | None, float]]:
    """(id, iteration, value, time) rows in iteration order, keyset-paged by (iteration, id)."""
    c = scalars.c
    query = select(c.id, c.iteration, c.value, c.time).where(c.series_id == series_id)
    if start is not None:
        query = query.where(c.iteration >= start)
    if end is not None:
        query = query.where(c.iteration <= end)
    if after is not None:
        query = query.where((c.iteration > after[0]) | and_(c.iteration == after[0], c.id > after[1]))
    return [tuple(r) for r in conn.execute(query.order_by(c.iteration, c.id).limit(limit))]  # type: ignore[misc]


def bucket_points(
    conn: Connection, series_id: int, lo: int, hi: int, buckets: int, *, start: int | None = None, upto: int | None = None
) -> list[tuple]:
    """(bucket, count, min, max, last_iteration) per non-empty bucket of the grid over [lo, hi],
    from the raw points (optionally only those in [start, upto])."""
    width = hi - lo + 1
    c = scalars.c
    bucket = ((c.iteration - _int(lo)) * _int(buckets) // _int(width)).label("bucket")
    query = (
        select(bucket, func.count(), func.min(c.value), func.max(c.value), func.max(c.iteration))
        .where(c.series_id == series_id, c.iteration >= max(lo, start or lo), c.iteration <= min(hi, hi if upto is None else upto))
        .group_by(bucket)
        .order_by(bucket)
    )
    return [tuple(r) for r in conn.execute(query)]


def bucket_blocks(
    conn: Connection, series_id: int, first_block: int, last_block: int, buckets: int, lo: int, width: int
) -> list[tuple]:
    """(bucket, count, min, max, last_iteration) per bucket of the grid over [lo, lo + width),
    from whole rollup blocks in [first_block, last_block], each placed by its first iteration."""
    b = scalar_blocks.c
    bucket = ((b.block * _int(BLOCK_SIZE) - _int(lo)) * _int(buckets) // _int(width)).label("bucket")
    query = (
        select(bucket, func.sum(b.count), func.min(b.min), func.max(b.max), func.max(b.last_iteration))
        .where(b.series_id == series_id, b.block >= first_block, b.block <= last_block)
        .group_by(bucket)
        .order_by(bucket)
    )
    return [tuple(r) for r in conn.execute(query)]


def values_at(conn: Connection, series_id: int, iterations: list[int]) -> dict[int, float | None]:
    """The value stored last at each given iteration (the `last` of a bucket)."""
    out: dict[int, float | None] = {}
    if not iterations:
        return out
    if conn.dialect.name == "postgresql":
        # One index probe per iteration: a plan that stays right before the table has statistics.
        rows = conn.exec_driver_sql(
            "SELECT it, (SELECT value FROM scalars s WHERE s.series_id = %s::bigint AND s.iteration = it "
            "ORDER BY s.id DESC LIMIT 1) FROM unnest(%s::bigint[]) AS it",
            (series_id, list(iterations)),
        )
        return {r[0]: r[1] for r in rows}
    c = scalars.c
    for chunk_start in range(0, len(iterations), 500):
        chunk = iterations[chunk_start:chunk_start + 500]
        newest = (
            select(c.iteration, func.max(c.id).label("id"))
            .where(c.series_id == series_id, c.iteration.in_(chunk))
            .group_by(c.iteration)
            .subquery()
        )
        rows = conn.execute(select(c.iteration, c.value).join(newest, c.id == newest.c.id))
        out.update({r[0]: r[1] for r in rows})
    return out


def list_events(
    conn: Connection, task_id: str, kind: str, *, metric: str | None = None, after: int | None = None,
    limit: int = 100, tail: int | None = None,
) -> list[dict[str, Any]]:
    """Events of one kind in seq order: the first `limit` after a seq, or the last `tail`."""
    e = events.c
    query = select(events).where(e.task_id == task_id, e.kind == kind)
    if metric is not None:
        query = query.where(e.metric == metric)
    if tail is not None:
        rows = list(conn.execute(query.order_by(e.id.desc()).limit(tail)).mappings())
        return [dict(r) for r in reversed(rows)]
    if after is not None:
        query = query.where(e.id > after)
    return [dict(r) for r in conn.execute(query.order_by(e.id).limit(limit)).mappings()]


def is_batch_conflict(exc: IntegrityError) -> bool:
    """Whether an IntegrityError is a second insert of the same (task, batch id): a retried batch."""
    text = str(exc.orig).lower()
    return "pk_event_batches" in text or "event_batches.task_id, event_batches.batch_id" in text
