"""The statements of one ingest transaction, run on the bare DB-API cursor.

Storing a batch is the server's hottest path: a batch of 1,000 points takes about a millisecond
in SQLite, and SQLAlchemy's per-statement work (~15 µs each, plus the transaction) was a
measurable share of it. The statements are fixed, so they are kept as plain SQL per dialect and
run on the driver's cursor inside `Database.write_cursor()` (which maps driver errors back to
SQLAlchemy's exception classes, so error handling is unchanged).
"""

from __future__ import annotations

from functools import lru_cache
from itertools import chain, repeat
from typing import Any

from labtrack.server.store.tables import BLOCK_SIZE

_EVENT_COLUMNS = ("task_id", "kind", "metric", "variant", "iteration", "time", "stream", "payload")

_SQLITE = {
    # The task's state and, in the same statement, how many events a stored batch with this id had.
    "state": "SELECT status, stop_requested, (SELECT accepted FROM event_batches WHERE task_id = ? AND batch_id = ?) "
             "FROM tasks WHERE id = ?",
    "record_batch": "INSERT INTO event_batches (task_id, batch_id, accepted, created) VALUES (?, ?, ?, ?)",
    "summary": "SELECT id, count, last, min, max, last_iteration FROM metric_series "
               "WHERE task_id = ? AND metric = ? AND variant = ?",
    "create_series": "INSERT INTO metric_series (task_id, metric, variant, count) VALUES (?, ?, ?, 0) RETURNING id",
    "save_summary": "UPDATE metric_series SET count = ?, last = ?, min = ?, max = ?, last_iteration = ? WHERE id = ?",
    "touch": "UPDATE tasks SET last_update = ? WHERE id = ?",
    "progress": "UPDATE tasks SET last_update = ?, last_iteration = CASE WHEN last_iteration IS NULL "
                "OR last_iteration < ? THEN ? ELSE last_iteration END WHERE id = ?",
    "events": f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(_EVENT_COLUMNS))})",
}
# Recompute the rollup blocks an out-of-order batch touched, from the points themselves
# (iterations are never negative, so integer division is the block number on both databases).
_REFRESH = (
    "INSERT INTO scalar_blocks (series_id, block, count, min, max, last_iteration) "
    f"SELECT series_id, iteration / {BLOCK_SIZE}, count(*), min(value), max(value), max(iteration) FROM scalars "
    f"WHERE series_id = ? AND iteration >= ? AND iteration < ? GROUP BY series_id, iteration / {BLOCK_SIZE} "
    "ON CONFLICT (series_id, block) DO UPDATE SET count = excluded.count, min = excluded.min, max = excluded.max, "
    "last_iteration = excluded.last_iteration"
)
_SQLITE["refresh_blocks"] = _REFRESH

_POSTGRES = {key: sql.replace("?", "%s") for key, sql in _SQLITE.items()}
# Concurrent batches of one task queue on the task's row lock instead of racing on its series rows.
_POSTGRES["state"] += " FOR UPDATE"
_POSTGRES["merge_blocks"] = (
    "INSERT INTO scalar_blocks (series_id, block, count, min, max, last_iteration) VALUES (%s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (series_id, block) DO UPDATE SET count = scalar_blocks.count + excluded.count, "
    "min = LEAST(scalar_blocks.min, excluded.min), max = GREATEST(scalar_blocks.max, excluded.max), "
    "last_iteration = GREATEST(scalar_blocks.last_iteration, excluded.last_iteration)"
)

# Rows per multi-row INSERT: 4 parameters each stays far below SQLite's oldest variable limit (999).
_MAX_ROWS = 128


@lru_cache(maxsize=None)
def _merge_blocks(count: int) -> str:
    """SQLite: fold `count` block rows into the rollup in one statement (rows upsert one after another,
    so two rows of one block would still add up). Two-argument min()/max() return NULL if either is
    NULL, hence the coalesces."""
    return (
        "INSERT INTO scalar_blocks (series_id, block, count, min, max, last_iteration) VALUES "
        + ", ".join(["(?, ?, ?, ?, ?, ?)"] * count)
        + " ON CONFLICT (series_id, block) DO UPDATE SET count = count + excluded.count, "
        "min = min(coalesce(min, excluded.min), coalesce(excluded.min, min)), "
        "max = max(coalesce(max, excluded.max), coalesce(excluded.max, max)), "
        "last_iteration = max(last_iteration, excluded.last_iteration)"
    )


@lru_cache(maxsize=None)
def _insert_rows(count: int) -> str:
    """An INSERT of `count` scalar rows in one statement."""
    return "INSERT INTO scalars (series_id, iteration, value, time) VALUES " + ", ".join(["(?, ?, ?, ?)"] * count)


class IngestCursor:
    """The ingest statements over one DB-API cursor in an open write transaction."""

    def __init__(self, cursor: Any, dialect: str) -> None:
        self.cur = cursor
        self.dialect = dialect
        self.sql = _POSTGRES if dialect == "postgresql" else _SQLITE

    def task_state(self, task_id: str, batch_id: str | None) -> tuple[bool, int | None] | None:
        """(stop_requested, events of the stored batch with this id or None), or None for no such task."""
        self.cur.execute(self.sql["state"], (task_id, batch_id, task_id))
        row = self.cur.fetchone()
        return (bool(row[1]), row[2]) if row else None

    def record_batch(self, task_id: str, batch_id: str, accepted: int, when: float) -> None:
        """Remember a batch id (raises IntegrityError when a concurrent request stored it first)."""
        self.cur.execute(self.sql["record_batch"], (task_id, batch_id, accepted, when))

    def series_summary(self, task_id: str, metric: str, variant: str) -> dict[str, Any] | None:
        """The summary row of one series of a task, or None."""
        self.cur.execute(self.sql["summary"], (task_id, metric, variant))
        row = self.cur.fetchone()
        if row is None:
            return None
        return {"id": row[0], "count": row[1], "last": row[2], "min": row[3], "max": row[4], "last_iteration": row[5]}

    def create_series(self, task_id: str, metric: str, variant: str) -> int:
        """Insert an empty series summary row and return its id."""
        self.cur.execute(self.sql["create_series"], (task_id, metric, variant))
        return int(self.cur.fetchone()[0])

    def save_summary(self, series_id: int, values: dict[str, Any]) -> None:
        """Write a series' merged running summary."""
        self.cur.execute(
            self.sql["save_summary"],
            (values["count"], values["last"], values["min"], values["max"], values["last_iteration"], series_id),
        )

    def insert_points(self, batches: list[tuple[int, list[int], list[float | None], list[float]]]) -> None:
        """Bulk insert each (series_id, iterations, values, times) as scalar rows: COPY on PostgreSQL;
        on SQLite, multi-row INSERTs, which cost about half of one executemany step per row."""
        if self.dialect == "postgresql":
            with self.cur.copy("COPY scalars (series_id, iteration, value, time) FROM STDIN") as copy:
                for sid, its, vals, times in batches:
                    for row in zip(repeat(sid), its, vals, times):
                        copy.write_row(row)
            return
        for sid, its, vals, times in batches:
            params = list(chain.from_iterable(zip(repeat(sid), its, vals, times)))
            start, count, size = 0, len(its), _MAX_ROWS
            # Chunks of 128, 64, 32, ... rows: at most eight statement texts, all in the driver's cache.
            while start < count:
                while size > count - start:
                    size //= 2
                self.cur.execute(_insert_rows(size), params[start * 4:(start + size) * 4])
                start += size

    def merge_blocks(self, rows: list[tuple[int, int, int, float | None, float | None, int]]) -> None:
        """Fold per-block aggregates of new points, (series_id, block, count, min, max, last_iteration),
        into the rollup: counts add up, min/max/last_iteration combine (NULL means no finite value)."""
        if not rows:
            return
        if self.dialect == "postgresql":
            # One row per statement: PostgreSQL refuses an upsert that touches a row twice.
            self.cur.executemany(self.sql["merge_blocks"], rows)
            return
        for start in range(0, len(rows), _MAX_ROWS):
            chunk = rows[start:start + _MAX_ROWS]
            self.cur.execute(_merge_blocks(len(chunk)), list(chain.from_iterable(chunk)))

    def refresh_blocks(self, series_id: int, first_iteration: int, last_iteration: int) -> None:
        """Recompute the rollup blocks that a batch touched, from the points themselves."""
        lo_block, hi_block = first_iteration // BLOCK_SIZE, last_iteration // BLOCK_SIZE
        self.cur.execute(self.sql["refresh_blocks"], (series_id, lo_block * BLOCK_SIZE, (hi_block + 1) * BLOCK_SIZE))

    def insert_events(self, rows: list[dict[str, Any]]) -> None:
        """Bulk insert non-scalar events (console lines, plots, tables, images)."""
        if rows:
            self.cur.executemany(self.sql["events"], [tuple(r[c] for c in _EVENT_COLUMNS) for r in rows])

    def record_progress(self, task_id: str, when: float, max_iteration: int | None) -> None:
        """Touch the task and raise its last_iteration to `max_iteration` if that is higher."""
        if max_iteration is None:
            self.cur.execute(self.sql["touch"], (when, task_id))
        else:
            self.cur.execute(self.sql["progress"], (when, max_iteration, max_iteration, task_id))
