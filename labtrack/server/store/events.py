"""Event storage reads: series summaries, scalar points (raw and downsampled), other events; batch conflicts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Connection, and_, func, literal_column, select
from sqlalchemy.exc import IntegrityError

from labtrack.server.store.tables import BLOCK_SIZE, events, metric_series, scalar_blocks, scalars


def _int(value: int):  # type: ignore[no-untyped-def]
    """An integer rendered inline: PostgreSQL only matches a GROUP BY expression to the select list
    when both are textually identical, which separate bind parameters are not."""
    return literal_column(str(int(value)), BigInteger())


# The ingest statements live in store/ingest.py (plain SQL on the DB-API cursor).


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


def values_at(conn: Connection, series_id: int, iterations: list[int]) -> dict[int, tuple[float | None, float]]:
    """(value, time) of the point stored last at each given iteration (the `last` of a bucket)."""
    out: dict[int, tuple[float | None, float]] = {}
    if not iterations:
        return out
    if conn.dialect.name == "postgresql":
        # One index probe per iteration: a plan that stays right before the table has statistics.
        rows = conn.exec_driver_sql(
            "SELECT it, p.value, p.time FROM unnest(%s::bigint[]) AS it CROSS JOIN LATERAL "
            "(SELECT value, time FROM scalars s WHERE s.series_id = %s::bigint AND s.iteration = it "
            "ORDER BY s.id DESC LIMIT 1) AS p",
            (list(iterations), series_id),
        )
        return {r[0]: (r[1], r[2]) for r in rows}
    c = scalars.c
    for chunk_start in range(0, len(iterations), 500):
        chunk = iterations[chunk_start:chunk_start + 500]
        newest = (
            select(c.iteration, func.max(c.id).label("id"))
            .where(c.series_id == series_id, c.iteration.in_(chunk))
            .group_by(c.iteration)
            .subquery()
        )
        rows = conn.execute(select(c.iteration, c.value, c.time).join(newest, c.id == newest.c.id))
        out.update({r[0]: (r[1], r[2]) for r in rows})
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


def console_lines(
    conn: Connection, task_id: str, *, after: int | None, limit: int, tail: int | None, max_chars: int
) -> tuple[list[dict[str, Any]], bool]:
    """Console rows in seq order holding at most `max_chars` characters of text in all: the first
    `limit` after a seq, or the newest `tail`. Returns (rows, more): `more` when rows were left out.

    Sizes are read first (the database measures, Python holds no text), then only the chosen rows'
    text. A row that alone exceeds the budget comes back cut to it; each row carries its full
    `length`, so the caller can say what was cut.
    """
    e = events.c
    length = func.length(e.payload)
    where = and_(e.task_id == task_id, e.kind == "console")
    if tail is not None:
        sizes = list(conn.execute(select(e.id, length).where(where).order_by(e.id.desc()).limit(tail)))
        wanted = tail
    else:
        if after is not None:
            where = and_(where, e.id > after)
        sizes = list(conn.execute(select(e.id, length).where(where).order_by(e.id).limit(limit + 1)))
        wanted = limit
    chosen: list[int] = []
    total = 0
    for row_id, size in sizes[:wanted]:
        if chosen and total + (size or 0) > max_chars:
            break
        chosen.append(row_id)
        total += size or 0
    if not chosen:
        return [], False
    # The chosen rows are consecutive in this task's console, so a seq range selects exactly them.
    query = (
        select(e.id, e.time, e.stream, func.substr(e.payload, 1, max_chars).label("payload"), length.label("length"))
        .where(where, e.id >= min(chosen), e.id <= max(chosen))
        .order_by(e.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()], len(chosen) < len(sizes)


def is_batch_conflict(exc: IntegrityError) -> bool:
    """Whether an IntegrityError is a second insert of the same (task, batch id): a retried batch."""
    text = str(exc.orig).lower()
    return "pk_event_batches" in text or "event_batches.task_id, event_batches.batch_id" in text
