"""Event batches in (idempotent, atomic, summaries kept current) and series/log reads out."""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from sqlalchemy.exc import IntegrityError

from labtrack.server.errors import Invalid, NotFound
from labtrack.server.services.ingest import MAX_CONSOLE_BYTES, Series, validate_events
from labtrack.server.services.paging import CursorKey, decode_cursor, encode_cursor
from labtrack.server.store import events as event_store
from labtrack.server.store import tasks as task_store
from labtrack.server.store.db import Database
from labtrack.server.store.ingest import IngestCursor
from labtrack.server.store.tables import BLOCK_SIZE
from labtrack.server.util import loads, now

MAX_RAW_LIMIT = 100_000
MAX_BUCKETS = 10_000
MAX_COMPARE_TASKS = 100
# Text in one console answer, in characters (a console event holds at most 1 MiB, see settings).
MAX_CONSOLE_RESPONSE_CHARS = 4 * 1024**2
# Downsample from rollup blocks once a bucket spans this many blocks; below it, from raw points.
_BLOCKS_PER_BUCKET = 4


def _batch_summary(series: Series) -> dict[str, Any]:
    """count/min/max/last (finite values only) and iteration extremes of one batch's points."""
    its, vals = series.iterations, series.values
    has_gaps = None in vals
    finite: list[float] = [v for v in vals if v is not None] if has_gaps else vals  # type: ignore[assignment]
    last_it: int | None = None
    last: float | None = None
    if finite:
        # The newest point is the one with the highest iteration; among equals, the later one.
        if not has_gaps and its[-1] == max(its):
            best = len(its) - 1
        else:
            best = -1
            for i in range(len(its) - 1, -1, -1):
                if vals[i] is not None and (best < 0 or its[i] > its[best]):
                    best = i
        last_it, last = its[best], vals[best]
    return {
        "count": len(its), "min": min(finite) if finite else None, "max": max(finite) if finite else None,
        "last": last, "last_it": last_it, "lo": min(its), "hi": max(its),
    }


def _sorted_blocks(series_id: int, series: Series) -> list[tuple] | None:
    """Rollup rows for a batch whose iterations ascend (the usual case), or None to let SQL do it."""
    its, vals = series.iterations, series.values
    if its != sorted(its):  # timsort checks an ascending list in one C-speed pass
        return None
    gaps = None in vals
    rows = []
    start, n = 0, len(its)
    while start < n:
        block = its[start] // BLOCK_SIZE
        end = bisect_left(its, (block + 1) * BLOCK_SIZE, start)
        chunk: list[float] = [v for v in vals[start:end] if v is not None] if gaps else vals[start:end]  # type: ignore[assignment]
        rows.append((series_id, block, end - start, min(chunk) if chunk else None, max(chunk) if chunk else None, its[end - 1]))
        start = end
    return rows


def _summary_and_blocks(series_id: int, series: Series) -> tuple[dict[str, Any], list[tuple] | None]:
    """A batch's summary and its rollup rows (None when iterations do not ascend: SQL recomputes)."""
    blocks = _sorted_blocks(series_id, series)
    its, vals = series.iterations, series.values
    if blocks is not None and None not in vals:
        # Ascending without gaps (the usual batch): the last point is the newest, and the blocks
        # already hold the minima and maxima, so no further pass over the points is needed.
        return {
            "count": len(its), "min": min(b[3] for b in blocks), "max": max(b[4] for b in blocks),
            "last": vals[-1], "last_it": its[-1], "lo": its[0], "hi": its[-1],
        }, blocks
    return _batch_summary(series), blocks


def _merge_summary(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {"count": (old["count"] or 0) + new["count"]}
    merged["min"] = min((v for v in (old["min"], new["min"]) if v is not None), default=None)
    merged["max"] = max((v for v in (old["max"], new["max"]) if v is not None), default=None)
    if new["last"] is not None and (old["last"] is None or new["last_it"] >= (old["last_iteration"] or 0)):
        merged["last"], merged["last_iteration"] = new["last"], new["last_it"]
    elif old["last"] is None:
        # No finite value yet: last_iteration still shows how far the series got.
        merged["last"], merged["last_iteration"] = None, max(old["last_iteration"] or 0, new["hi"])
    else:
        merged["last"], merged["last_iteration"] = old["last"], old["last_iteration"]
    return merged


# The SDK's resource monitor (CPU, memory, GPU) logs under this metric with seconds as its
# "iteration": its points are a run's gauges, never its progress (task.last_iteration).
SYSTEM_METRIC = ":monitor:"


class EventService:
    """Ingest and read a task's events."""

    def __init__(self, db: Database, max_batch_points: int = 100_000, max_console_bytes: int = MAX_CONSOLE_BYTES) -> None:
        self.db = db
        self.max_batch_points = max_batch_points
        self.max_console_bytes = max_console_bytes

    def ingest(self, task_id: str, batch_id: str | None, raw_events: list[Any], *, wait: bool = True) -> dict[str, Any]:
        """Store a batch atomically; a batch id already stored for the task is acknowledged, not stored.

        With `wait=False`, raises `WriteBusy` (storing nothing) rather than wait for another writer.
        """
        received = now()
        series, rows, _points = validate_events(
            raw_events, task_id=task_id, received=received, max_points=self.max_batch_points,
            max_console_bytes=self.max_console_bytes,
        )
        accepted = len(raw_events)
        try:
            with self.db.write_cursor(wait=wait) as cursor:
                store = IngestCursor(cursor, self.db.dialect)
                state = store.task_state(task_id, batch_id)
                if state is None:
                    raise NotFound(f"Task {task_id} does not exist.")
                stop_requested, stored = state
                if batch_id is not None:
                    if stored is not None:
                        return {"batch_id": batch_id, "accepted": stored, "duplicate": True, "stop_requested": stop_requested}
                    store.record_batch(task_id, batch_id, accepted, received)
                max_iteration = self._store_series(store, task_id, series)
                store.insert_events(rows)
                store.record_progress(task_id, received, max_iteration)
        except IntegrityError as exc:
            if batch_id is not None and event_store.is_batch_conflict(exc):
                # A concurrent request with the same batch id committed first.
                return {"batch_id": batch_id, "accepted": accepted, "duplicate": True, "stop_requested": False}
            raise
        return {"batch_id": batch_id, "accepted": accepted, "duplicate": False, "stop_requested": stop_requested}

    @staticmethod
    def _store_series(store: IngestCursor, task_id: str, series: dict[tuple[str, str], Series]) -> int | None:
        """Insert a batch's points, fold it into the series summaries and rollup; returns its max iteration."""
        if not series:
            return None
        points: list[tuple[int, list[int], list[float | None], list[float]]] = []
        touched: list[tuple[int, int, int]] = []  # unordered batches: (series id, first, last iteration)
        blocks: list[tuple] = []
        max_iteration: int | None = None
        for key, s in series.items():
            if not s.iterations:
                continue
            old = store.series_summary(task_id, key[0], key[1])
            if old is None:
                sid = store.create_series(task_id, key[0], key[1])
                old = {"id": sid, "count": 0, "min": None, "max": None, "last": None, "last_iteration": None}
            sid = old["id"]
            summary, rollup = _summary_and_blocks(sid, s)
            store.save_summary(sid, _merge_summary(old, summary))
            points.append((sid, s.iterations, s.values, s.times))
            if rollup is None:
                touched.append((sid, summary["lo"], summary["hi"]))
            else:
                blocks.extend(rollup)
            if key[0] != SYSTEM_METRIC:
                max_iteration = summary["hi"] if max_iteration is None else max(max_iteration, summary["hi"])
        store.insert_points(points)
        for sid, lo, hi in touched:
            store.refresh_blocks(sid, lo, hi)  # after the insert: it recomputes from the points
        store.merge_blocks(blocks)
        return max_iteration

    # -- reads -----------------------------------------------------------------------------

    def _require_task(self, conn, task_id: str) -> None:  # type: ignore[no-untyped-def]
        if task_store.status_of(conn, task_id) is None:
            raise NotFound(f"Task {task_id} does not exist.")

    def metrics(self, task_id: str) -> list[dict[str, Any]]:
        """Every metric/variant of a task with its summary."""
        with self.db.read() as conn:
            self._require_task(conn, task_id)
            rows = event_store.list_series(conn, task_id)
        return [
            {k: r[k] for k in ("metric", "variant", "count", "last", "min", "max", "last_iteration")} for r in rows
        ]

    def series(
        self, task_id: str, metric: str, variant: str, *, start: int | None, end: int | None,
        limit: int, cursor: str | None, buckets: int | None,
    ) -> dict[str, Any]:
        """One series raw (paged) or downsampled into `buckets`."""
        _check_range(start, end, limit, buckets)
        with self.db.read() as conn:
            self._require_task(conn, task_id)
            found = event_store.find_series(conn, [task_id], metric, variant)
            return self._read_series(conn, found[0] if found else None, metric, variant, start, end, limit, cursor, buckets)

    def compare(
        self, task_ids: list[str], metric: str, variant: str | None, *, start: int | None, end: int | None,
        limit: int, buckets: int | None,
    ) -> list[dict[str, Any]]:
        """The same metric for many tasks (unknown tasks simply have no series)."""
        _check_range(start, end, limit, buckets)
        if not task_ids or len(task_ids) > MAX_COMPARE_TASKS:
            raise Invalid(
                f"task_ids must list 1-{MAX_COMPARE_TASKS} task ids.", [{"loc": ["query", "task_ids"], "msg": "count"}]
            )
        order = {tid: i for i, tid in enumerate(task_ids)}
        with self.db.read() as conn:
            found = event_store.find_series(conn, task_ids, metric, variant)
            found.sort(key=lambda s: (order.get(s["task_id"], 0), s["variant"]))
            items = []
            for s in found:
                item = self._read_series(conn, s, metric, s["variant"], start, end, limit, None, buckets)
                items.append({"task_id": s["task_id"], **item})
        return items

    @staticmethod
    def _read_series(conn, found, metric, variant, start, end, limit, cursor, buckets) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        if buckets is not None:
            out: dict[str, Any] = {"metric": metric, "variant": variant, "buckets": buckets, "iterations": [],
                                   "values": [], "times": [], "min": [], "max": [], "count": []}
            if found is None:
                return out
            lo, hi = event_store.iteration_range(conn, found["id"])
            if lo is None or hi is None:
                return out
            lo = lo if start is None else max(lo, start)
            hi = hi if end is None else min(hi, end)
            if lo > hi:
                return out
            groups = _downsample(conn, found["id"], lo, hi, buckets)
            lasts = event_store.values_at(conn, found["id"], [g[4] for g in groups])
            for _bucket, count, vmin, vmax, last_it in groups:
                value, time = lasts.get(last_it, (None, None))
                out["iterations"].append(last_it)
                out["values"].append(value)
                out["times"].append(time)  # when the bucket's last point was reported (time axes)
                out["min"].append(vmin)
                out["max"].append(vmax)
                out["count"].append(int(count))
            return out
        after = decode_cursor(cursor, [CursorKey.INTEGER, CursorKey.INTEGER])  # (iteration, id)
        out = {"metric": metric, "variant": variant, "iterations": [], "values": [], "times": [], "next_cursor": None}
        if found is None:
            return out
        rows = event_store.raw_points(conn, found["id"], start, end, tuple(after) if after else None, limit + 1)  # type: ignore[arg-type]
        if len(rows) > limit:
            rows = rows[:limit]
            out["next_cursor"] = encode_cursor([rows[-1][1], rows[-1][0]])
        out["iterations"] = [r[1] for r in rows]
        out["values"] = [r[2] for r in rows]
        out["times"] = [r[3] for r in rows]
        return out

    def console(self, task_id: str, *, tail: int | None, after: int | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        """Console lines: the last `tail`, or a page after a seq; at most MAX_CONSOLE_RESPONSE_CHARS
        characters of text in all (a tail keeps the newest lines that fit, a page ends early with a
        cursor), so no answer grows with what a task printed."""
        with self.db.read() as conn:
            self._require_task(conn, task_id)
            rows, more = event_store.console_lines(
                conn, task_id, after=after, limit=limit, tail=tail, max_chars=MAX_CONSOLE_RESPONSE_CHARS
            )
        next_cursor = str(rows[-1]["id"]) if tail is None and more and rows else None
        items = []
        for r in rows:
            text = r["payload"]
            if r["length"] > len(text):  # one line over the whole budget (stored before the per-event cap)
                text += f"\n… [cut {r['length'] - len(text)} characters] …\n"
            items.append({"seq": r["id"], "time": r["time"], "stream": r["stream"], "text": text})
        return items, next_cursor

    def media_events(self, task_id: str, kind: str, *, metric: str | None, after: int | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        """Plots, tables or images in seq order."""
        with self.db.read() as conn:
            self._require_task(conn, task_id)
            rows = event_store.list_events(conn, task_id, kind, metric=metric, after=after, limit=limit + 1)
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = str(rows[-1]["id"])
        items = []
        for r in rows:
            item = {"seq": r["id"], "metric": r["metric"], "variant": r["variant"], "iteration": r["iteration"], "time": r["time"]}
            payload = loads(r["payload"], {})
            item.update({"figure": payload} if kind == "plot" else payload)
            items.append(item)
        return items, next_cursor


def _check_range(start: int | None, end: int | None, limit: int, buckets: int | None) -> None:
    if not 1 <= limit <= MAX_RAW_LIMIT:
        raise Invalid(f"limit must be 1-{MAX_RAW_LIMIT}.", [{"loc": ["query", "limit"], "msg": "out of range"}])
    if buckets is not None and not 1 <= buckets <= MAX_BUCKETS:
        raise Invalid(f"buckets must be 1-{MAX_BUCKETS}.", [{"loc": ["query", "buckets"], "msg": "out of range"}])
    # start > end is an empty range (no iteration lies in it), answered as such: the document
    # can't state a rule between two parameters, and an empty answer is true.


def _downsample(conn, series_id: int, lo: int, hi: int, buckets: int) -> list[tuple]:  # type: ignore[no-untyped-def]
    """(bucket, count, min, max, last_iteration) over [lo, hi] in `buckets` equal-width buckets.

    Short ranges are bucketed from the raw points. Long ones (each bucket spanning at least
    _BLOCKS_PER_BUCKET rollup blocks) read the blocks instead, ~1/BLOCK_SIZE of the rows; a block
    then falls wholly into the bucket of its first iteration, so bucket edges can shift by up to
    one block (BLOCK_SIZE iterations). Counts, min and max stay exact, so spikes survive.
    """
    width = hi - lo + 1
    if width < buckets * BLOCK_SIZE * _BLOCKS_PER_BUCKET:
        return event_store.bucket_points(conn, series_id, lo, hi, buckets)
    first_full = -(-lo // BLOCK_SIZE)  # first block that starts at or after lo
    last_full = (hi + 1) // BLOCK_SIZE - 1  # last block that ends at or before hi
    merged: dict[int, list] = {}

    def add(rows: list[tuple]) -> None:
        for bucket, count, vmin, vmax, last_it in rows:
            slot = merged.get(bucket)
            if slot is None:
                merged[bucket] = [bucket, int(count), vmin, vmax, last_it]
                continue
            slot[1] += int(count)
            slot[2] = vmin if slot[2] is None else (slot[2] if vmin is None else min(slot[2], vmin))
            slot[3] = vmax if slot[3] is None else (slot[3] if vmax is None else max(slot[3], vmax))
            slot[4] = max(slot[4], last_it)

    add(event_store.bucket_blocks(conn, series_id, first_full, last_full, buckets, lo, width))
    # The partial blocks at either edge come from raw points, bucketed on the same grid.
    if lo < first_full * BLOCK_SIZE:
        add(event_store.bucket_points(conn, series_id, lo, hi, buckets, upto=first_full * BLOCK_SIZE - 1))
    if (last_full + 1) * BLOCK_SIZE <= hi:
        add(event_store.bucket_points(conn, series_id, lo, hi, buckets, start=(last_full + 1) * BLOCK_SIZE))
    return [tuple(merged[b]) for b in sorted(merged)]
