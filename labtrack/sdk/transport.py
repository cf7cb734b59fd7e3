"""The background sender: batches events, sends them, survives outages, never blocks the caller.

Producers (the logger's per-series buffers, the console tee) are *pulled* by the sender thread
once per interval, so reporting costs only a list append on the caller's thread. Collected
events become operations (`{"op": "events", "batch_id": …}`) in one ordered queue together with
metadata operations (patches, status actions, artifact and image uploads). An operation that
cannot be delivered stays first in line and is retried with backoff; when the in-memory queue
grows past a bound, or at exit with the server still down, queued operations are written to a
session folder (see `spool.py`) that `labtrack sync` can upload later. Batch ids make every
retry and every replay idempotent on the server.
"""

from __future__ import annotations

import collections
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from labtrack.sdk.client import ApiClient
from labtrack.sdk.errors import ApiError, Conflict, ServerUnreachable
from labtrack.sdk.progress import CountingReader, TransferProgress
from labtrack.sdk.spool import SessionFolder

MAX_POINTS_PER_BATCH = 50_000  # well under the server's 100,000-point limit per batch
Source = Callable[[bool], list]  # source(final) -> list of event dicts


def event_points(event: dict[str, Any]) -> int:
    """How many points an event counts for, in batch-size and memory accounting."""
    if event.get("type") == "scalars":
        return len(event.get("iterations", ()))
    return 1


def split_events(events: list[dict[str, Any]], limit: int = MAX_POINTS_PER_BATCH) -> list[list[dict[str, Any]]]:
    """Cut a list of events into batches of at most `limit` points, splitting long columns."""
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for event in events:
        pieces = [event]
        if event.get("type") == "scalars" and len(event["iterations"]) > limit:
            pieces = []
            n = len(event["iterations"])
            for start in range(0, n, limit):
                piece = dict(event)
                for key in ("iterations", "values", "times"):
                    if key in event:
                        piece[key] = event[key][start:start + limit]
                pieces.append(piece)
        for piece in pieces:
            pts = event_points(piece)
            if current and size + pts > limit:
                batches.append(current)
                current, size = [], 0
            current.append(piece)
            size += pts
    if current:
        batches.append(current)
    return batches


def _resolve(folder_root: Path | None, name: str) -> Path:
    path = Path(name)
    if not path.is_absolute() and folder_root is not None:
        path = folder_root / path
    return path


def deliver_op(client: ApiClient, task_id: str, op: dict[str, Any], folder_root: Path | None = None) -> dict | None:
    """Perform one operation against the server; return the events/heartbeat response if any.

    Raises `ServerUnreachable` (retry later) or `ApiError` (the server refused it).
    """
    kind = op["op"]
    base = f"/tasks/{task_id}"
    if kind == "events":
        return client.post(f"{base}/events", json={"batch_id": op["batch_id"], "events": op["events"]})
    if kind == "patch":
        client.patch(base, json=op["body"])
        return None
    if kind == "action":
        try:
            client.post(f"{base}/{op['action']}", json=op.get("body") or {})
        except Conflict:
            # Replays and races (e.g. already stopped from the UI) end in a state we cannot
            # change any more; the status the server holds wins.
            pass
        return None
    if kind == "artifact":
        path = _resolve(folder_root, op["file"])
        params = {"type": op.get("type", "custom"), "filename": op.get("filename") or path.name}
        size = path.stat().st_size
        progress = TransferProgress(f"uploading artifact {op['key']!r}", size, _warn)
        with open(path, "rb") as fh:
            client.put(f"{base}/artifacts/{op['key']}", data=CountingReader(fh, size, progress), params=params)
        progress.finish()
        extra = {k: op[k] for k in ("preview", "metadata") if op.get(k) is not None}
        if extra:
            client.patch(f"{base}/artifacts/{op['key']}", json=extra)
        if op.get("delete_after"):
            path.unlink(missing_ok=True)
        return None
    if kind == "image":
        path = _resolve(folder_root, op["file"])
        with open(path, "rb") as fh:
            media = client.request(
                "POST", f"{base}/media", params={"filename": op.get("filename") or path.name}, data=fh,
                headers={"Content-Type": "application/octet-stream"},
            ).json()
        event = dict(op["event"], uri=media["uri"])
        resp = client.post(f"{base}/events", json={"batch_id": op["batch_id"], "events": [event]})
        if op.get("delete_after"):
            path.unlink(missing_ok=True)
        return resp
    raise ValueError(f"unknown operation {kind!r}")


class _Spooled:
    """A queued operation whose body lives in the spool folder instead of memory."""

    __slots__ = ("seq", "path", "points")

    def __init__(self, seq: int, path: Path, points: int):
        self.seq, self.path, self.points = seq, path, points


class Sender:
    """One task's background sender thread.

    Args:
        client: the API client, or `None` for an offline session (everything goes to `spool_dir`).
        task_id: server task id (online) or the local session id (offline).
        spool_dir: the session folder used for overflow, outages and offline sessions.
        interval: seconds between batches (the most a kill -9 can lose).
        max_memory_points: queued points kept in memory before spooling to disk.
        on_stop_requested: called (on the sender thread) when the server says someone asked
            this task to stop.
    """

    def __init__(
        self,
        client: ApiClient | None,
        task_id: str,
        spool_dir: Path,
        interval: float = 1.0,
        heartbeat_interval: float = 10.0,
        max_memory_points: int = 1_000_000,
        max_attempts: int = 5,
        on_stop_requested: Callable[[], None] | None = None,
        spool_meta: dict[str, Any] | None = None,
    ):
        self.client = client
        self.task_id = task_id
        self.folder = SessionFolder(spool_dir)
        self.interval = interval
        self.heartbeat_interval = heartbeat_interval
        self.max_memory_points = max_memory_points
        self.max_attempts = max_attempts
        self.on_stop_requested = on_stop_requested
        self._spool_meta = spool_meta or {"task_id": task_id, "api_url": client.url if client else None}
        self._sources: list[Source] = []
        self._sizes: list[Callable[[], int]] = []
        self.batch_points = MAX_POINTS_PER_BATCH
        self._queue: collections.deque[dict | _Spooled] = collections.deque()
        self._queue_lock = threading.Lock()
        self._memory_points = 0
        self._outage = False  # the last delivery attempt found no server
        self._session = uuid.uuid4().hex[:12]
        self._seq = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._cond = threading.Condition()
        self._flush_requested = 0
        self._flushed = 0
        self._backoff = 0.0
        self._next_attempt = 0.0
        self._attempts = 0
        self._last_contact = time.monotonic()
        self._stop_notified = False
        self.last_error: str | None = None
        self.sent_batches = 0
        self.final_report: str | None = None
        self._thread = threading.Thread(target=self._run, name="labtrack-sender", daemon=True)
        self._started = False

    # -- producer side -------------------------------------------------------------------------

    def add_source(self, source: Source, size: Callable[[], int] | None = None) -> None:
        """Register a callable polled once per interval for new events; `size()`, when given,
        tells how many points it holds (a full batch is sent before the interval ends)."""
        self._sources.append(source)
        if size is not None:
            self._sizes.append(size)

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def enqueue(self, op: dict[str, Any]) -> None:
        """Queue a metadata operation (patch, action, artifact, image) in order with events."""
        with self._queue_lock:
            self._push(op)
        self._wake.set()

    def collect_now(self, final: bool = False) -> None:
        """Pull the sources now, so that what follows (e.g. a status change) is queued after it."""
        self._collect(final)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _push(self, op: dict[str, Any]) -> None:
        # Caller holds _queue_lock. Offline sessions write every operation straight to disk.
        seq = self._next_seq()
        op.setdefault("seq", seq)
        points = sum(event_points(e) for e in op.get("events", ())) or 1
        if self.client is None:
            self._ensure_folder()
            self.folder.write_op(seq, op)
            return
        self._queue.append(op)
        self._memory_points += points

    def new_batch_id(self) -> str:
        return f"{self._session}-{uuid.uuid4().hex[:8]}"

    # -- flushing ------------------------------------------------------------------------------

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Ask the sender to send everything reported so far; wait until it did or `timeout`.

        Returns True when everything reported before the call reached the server (or, offline,
        the session folder).
        """
        if not self._started or not self._thread.is_alive():
            return self.pending_points() == 0
        with self._cond:
            self._flush_requested += 1
            target = self._flush_requested
        self._next_attempt = 0.0  # a person is waiting: retry now, not after the backoff
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._flushed < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining if remaining is not None else 1.0)
        return True

    def pending_points(self) -> int:
        with self._queue_lock:
            return sum(1 if isinstance(e, dict) and e.get("op") != "events" else
                       (e.points if isinstance(e, _Spooled) else sum(event_points(x) for x in e["events"]))
                       for e in self._queue)

    def close(self, timeout: float = 30.0) -> str | None:
        """Send what remains (waiting at most `timeout` seconds), spool the rest, stop the thread.

        Returns a message for a person when something could not be sent, else `None`.
        """
        self._close_deadline = time.monotonic() + timeout
        self._stopping.set()
        self._next_attempt = 0.0
        self._wake.set()
        if self._started:
            self._thread.join(timeout + 10)
            if self._thread.is_alive():
                # Stuck in a request to a hung server: keep what is queued on disk from here. An
                # operation that still lands is harmless to replay (batch ids).
                self._finish()
        else:
            self._cycle(final=True)
            self._finish()
        return self.final_report

    # -- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        next_batch = time.monotonic() + self.interval
        while True:
            stopping = self._stopping.is_set()
            try:
                if stopping:
                    self._drain_until_deadline()
                    self._finish()
                    return
                self._cycle(final=False)
                self._maybe_heartbeat()
            except Exception as exc:  # the sender must never die silently; say so and go on
                self.last_error = f"{type(exc).__name__}: {exc}"
                _warn(f"labtrack: sender error (data is kept): {self.last_error}")
            now = time.monotonic()
            if now >= next_batch:
                next_batch = now + self.interval
            wait = next_batch - now
            if self._queue and self._next_attempt > now:
                wait = min(wait, self._next_attempt - now)
            self._sleep(max(wait, 0.0))
            self._wake.clear()

    def _sleep(self, seconds: float) -> None:
        """Wait for the next batch time, a wake-up, or a full batch's worth of buffered points.

        Peeking at buffer sizes every 0.1 s lets a fast loop's data flow to the server while the
        loop still runs, without the reporting thread ever signalling anything.
        """
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._wake.wait(min(remaining, 0.1)):
                return
            if self._sizes and self._queue_is_idle() and sum(size() for size in self._sizes) >= self.batch_points:
                return

    def _queue_is_idle(self) -> bool:
        return not self._queue or self.client is None

    def _cycle(self, final: bool) -> None:
        with self._cond:
            target = self._flush_requested
        self._collect(final)
        delivered_all = self._deliver(time.monotonic() + self.interval * 5 if not final else None)
        if delivered_all:
            with self._cond:
                self._flushed = max(self._flushed, target)
                self._cond.notify_all()

    def _collect(self, final: bool) -> None:
        events: list[dict[str, Any]] = []
        for source in self._sources:
            try:
                events.extend(source(final))
            except Exception as exc:  # a broken source must not stop the others
                self.last_error = f"source {source!r} failed: {exc}"
        if not events:
            return
        with self._queue_lock:
            for batch in split_events(events):
                self._push({"op": "events", "batch_id": self.new_batch_id(), "events": batch})
            if self._memory_points > self.max_memory_points or self._outage:
                # While the server is unreachable, what is collected goes to disk each interval, so a
                # process killed during the outage leaves it for the next run to replay (orphans.py).
                self._spool_memory()

    def _ensure_folder(self) -> None:
        if not self.folder.exists():
            meta = dict(self._spool_meta)
            if self.client is not None:
                # Who writes this spool: a later process replays it only once this one is gone.
                from labtrack.sdk.orphans import owner_marker

                meta["owner"] = owner_marker()
            self.folder.create(meta)

    def _spool_memory(self) -> None:
        """Move every in-memory operation to disk, keeping queue order (caller holds the lock)."""
        self._ensure_folder()
        for i, entry in enumerate(self._queue):
            if isinstance(entry, dict):
                points = sum(event_points(e) for e in entry.get("events", ())) or 1
                path = self.folder.write_op(entry["seq"], entry)
                self._queue[i] = _Spooled(entry["seq"], path, points)
        self._memory_points = 0

    def _deliver(self, deadline: float | None) -> bool:
        """Send queued operations in order; return True when the queue is empty."""
        if self.client is None:
            return True
        while True:
            with self._queue_lock:
                if not self._queue:
                    return True
                entry = self._queue[0]
            if time.monotonic() < self._next_attempt:
                return False
            if deadline is not None and time.monotonic() > deadline:
                return False
            op = self.folder.read_op(entry.path) if isinstance(entry, _Spooled) else entry
            try:
                resp = deliver_op(self.client, self.task_id, op, self.folder.root)
            except ServerUnreachable as exc:
                self._failed(str(exc), retry_forever=True)
                with self._queue_lock:
                    self._outage = True
                    self._spool_memory()
                return False
            except ApiError as exc:
                if exc.status >= 500 or exc.status in (408, 429):
                    if self._failed(str(exc), retry_forever=False):
                        return False
                self._reject(entry, op, str(exc))
            except OSError as exc:  # a staged file vanished: nothing to send, say so
                self._reject(entry, op, f"local file problem: {exc}")
            else:
                self._succeeded(resp)
            with self._queue_lock:
                self._queue.popleft()
                if isinstance(entry, _Spooled):
                    entry.path.unlink(missing_ok=True)
                else:
                    self._memory_points -= sum(event_points(e) for e in entry.get("events", ())) or 1

    def _failed(self, message: str, retry_forever: bool) -> bool:
        """Record a failed attempt and schedule the next; False when the op should be given up."""
        self.last_error = message
        self._attempts += 1
        if not retry_forever and self._attempts >= self.max_attempts:
            self._attempts = 0
            self._backoff = 0.0
            return False
        self._backoff = min(max(self._backoff * 2, 0.25), 8.0)
        self._next_attempt = time.monotonic() + self._backoff
        return True

    def _succeeded(self, resp: dict | None) -> None:
        self._outage = False
        self._attempts = 0
        self._backoff = 0.0
        self._next_attempt = 0.0
        self._last_contact = time.monotonic()
        self.sent_batches += 1
        if resp and resp.get("stop_requested"):
            self._notify_stop()

    def _reject(self, entry: dict | _Spooled, op: dict[str, Any], reason: str) -> None:
        self._ensure_folder()
        path = self.folder.reject(op.get("seq", 0), op, reason)
        _warn(f"labtrack: the server refused an operation ({op['op']}): {reason}. Kept in {path}")

    def _notify_stop(self) -> None:
        if not self._stop_notified and self.on_stop_requested is not None:
            self._stop_notified = True
            try:
                self.on_stop_requested()
            except Exception as exc:
                self.last_error = f"stop callback failed: {exc}"

    def _maybe_heartbeat(self) -> None:
        if self.client is None or time.monotonic() - self._last_contact < self.heartbeat_interval:
            return
        self._last_contact = time.monotonic()  # also when it fails: no hammering a dead server
        try:
            resp = self.client.post(f"/tasks/{self.task_id}/heartbeat")
        except (ServerUnreachable, ApiError):
            return
        if resp and resp.get("stop_requested"):
            self._notify_stop()

    def heartbeat_now(self) -> None:
        """Force a heartbeat on the next cycle (used right after start)."""
        self._last_contact = 0.0
        self._wake.set()

    def _drain_until_deadline(self) -> None:
        deadline = getattr(self, "_close_deadline", time.monotonic() + 30)
        self._collect(final=True)
        while time.monotonic() < deadline:
            if self._deliver(deadline):
                break
            sleep_for = min(max(self._next_attempt - time.monotonic(), 0.05), deadline - time.monotonic())
            if sleep_for > 0:
                time.sleep(sleep_for)
        with self._cond:
            if not self._queue:
                self._flushed = self._flush_requested
            self._cond.notify_all()

    def _finish(self) -> None:
        with self._queue_lock:
            if not self._queue:
                if self.client is not None and self.folder.exists() and not self.folder.rejected_dir.exists():
                    _remove_empty_spool(self.folder)
                return
            count = len(self._queue)
            points = sum(e.points if isinstance(e, _Spooled) else
                         (sum(event_points(x) for x in e.get("events", ())) or 1) for e in self._queue)
            self._spool_memory()
        self.final_report = (
            f"labtrack: {count} batch(es) ({points} events) for task {self.task_id} could not be sent "
            f"to {self.client.url if self.client else 'the server'} ({self.last_error or 'timed out'}). "
            f"They are kept in {self.folder.root}; upload them later with: labtrack sync {self.folder.root}"
        )


def _remove_empty_spool(folder: SessionFolder) -> None:
    """Remove a spool folder that holds nothing left to send."""
    import shutil

    if folder.pending_count() == 0:
        shutil.rmtree(folder.root, ignore_errors=True)


def _warn(message: str) -> None:
    """Tell a person, on the real stderr (not the teed one, to avoid feedback loops)."""
    stream = getattr(sys, "__stderr__", None) or sys.stderr
    try:
        stream.write(message + "\n")
        stream.flush()
    except Exception:
        pass


def spool_root() -> Path:
    """Where online tasks spool what they could not send."""
    from labtrack import paths

    return Path(os.environ.get("LABTRACK_SPOOL_DIR") or paths.data_dir() / "spool")
