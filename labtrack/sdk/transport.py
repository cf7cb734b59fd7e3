"""The background sender: batches events, sends them, survives outages, never blocks the caller.

Producers (the logger's per-series buffers, the console tee) are *pulled* by the sender thread
once per interval, so reporting costs only a list append on the caller's thread. Collected
events become operations (`{"op": "events", "batch_id": …}`) in one ordered queue together with
metadata operations (patches, status actions, artifact and image uploads). An operation that
cannot be delivered *now* (no answer, a 5xx, 408/429, bad credentials) stays first in line and is
retried with backoff, honouring `Retry-After`; while that lasts, and when the in-memory queue grows
past a bound, queued operations are written to a session folder (see `spool.py`) that the next
run or `labtrack sync` uploads. Only an operation the server refuses for what it is (another 4xx)
is set aside, with the server's answer, in the folder's `rejected/`, and the task's final status
message says how many were. Nothing else ever leaves the queue unsent, and nothing blocks it:
an operation that fails for any other reason is retried a few times, then set aside too.
Batch ids make every retry and every replay idempotent on the server.
"""

from __future__ import annotations

import collections
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from labtrack.sdk.client import ApiClient
from labtrack.sdk.encoding import clean_text, dumps
from labtrack.sdk.errors import ApiError, Conflict, ServerUnreachable, already_applied, retry_later
from labtrack.sdk.notices import warn, warn_once
from labtrack.sdk.owners import owner_marker
from labtrack.sdk.progress import CountingReader, TransferProgress
from labtrack.sdk.spool import SessionFolder

MAX_POINTS_PER_BATCH = 50_000  # well under the server's 100,000-point limit per batch
# Text-heavy batches are cut by size too: the server refuses bodies over 64 MiB (413), and a
# refused batch would be set aside. Characters stand in for bytes (UTF-8 is at most 4 per character).
MAX_CHARS_PER_BATCH = 8 << 20
TERMINAL_ACTIONS = ("complete", "fail", "stop")
MAX_RETRY_AFTER = 60.0  # longest wait a server's Retry-After may impose between two attempts
UNEXPECTED_ATTEMPTS = 3  # tries of an operation failing for no server or network reason before it is set aside
Source = Callable[[bool], list]  # source(final) -> list of event dicts


def event_points(event: dict[str, Any]) -> int:
    """How many points an event counts for, in batch-size and memory accounting."""
    if event.get("type") == "scalars":
        return len(event.get("iterations", ()))
    return 1


def event_chars(event: dict[str, Any]) -> int:
    """The length of an event's free text (console lines, text reports): what makes a batch large."""
    text = event.get("text")
    return len(text) if isinstance(text, str) else 0


def split_events(events: list[dict[str, Any]], limit: int = MAX_POINTS_PER_BATCH,
                 max_chars: int = MAX_CHARS_PER_BATCH) -> list[list[dict[str, Any]]]:
    """Cut a list of events into batches of at most `limit` points and about `max_chars` of text,
    splitting long columns."""
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    chars = 0
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
            text = event_chars(piece)
            if current and (size + pts > limit or chars + text > max_chars):
                batches.append(current)
                current, size, chars = [], 0, 0
            current.append(piece)
            size += pts
            chars += text
    if current:
        batches.append(current)
    return batches


def _resolve(folder_root: Path | None, name: str) -> Path:
    path = Path(name)
    if not path.is_absolute() and folder_root is not None:
        path = folder_root / path
    return path


def _send_json(client: ApiClient, method: str, path: str, body: Any) -> Any:
    """Send a JSON body serialized by `encoding.dumps` (which repairs unencodable text); return
    the parsed answer, or None when there is none."""
    resp = client.request(method, path, data=dumps(body), headers={"Content-Type": "application/json"})
    if resp.status_code == 204 or not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return None  # accepted (2xx) but not JSON: nothing in it we need


def deliver_op(client: ApiClient, task_id: str, op: dict[str, Any], folder_root: Path | None = None) -> dict | None:
    """Perform one operation against the server; return the events/heartbeat response if any.

    Raises `ServerUnreachable` (retry later) or `ApiError` (see `errors.retry_later` for which
    answers mean "later" and which mean "never").
    """
    kind = op["op"]
    base = f"/tasks/{task_id}"
    if kind == "events":
        return _send_json(client, "POST", f"{base}/events", {"batch_id": op["batch_id"], "events": op["events"]})
    if kind == "patch":
        _send_json(client, "PATCH", base, op["body"])
        return None
    if kind == "action":
        try:
            _send_json(client, "POST", f"{base}/{op['action']}", op.get("body") or {})
        except Conflict:
            # Replays and races (e.g. already stopped from the UI) end in a state we cannot
            # change any more; the status the server holds wins.
            pass
        return None
    if kind == "artifact":
        path = _resolve(folder_root, op["file"])
        filename = clean_text(op.get("filename") or path.name, "artifact file name")
        params = {"type": op.get("type", "custom"), "filename": filename}
        size = path.stat().st_size
        progress = TransferProgress(f"uploading artifact {op['key']!r}", size, warn)
        with open(path, "rb") as fh:
            client.put(f"{base}/artifacts/{op['key']}", data=CountingReader(fh, size, progress), params=params)
        progress.finish()
        extra = {k: op[k] for k in ("preview", "metadata") if op.get(k) is not None}
        if extra:
            _send_json(client, "PATCH", f"{base}/artifacts/{op['key']}", extra)
        if op.get("delete_after"):
            path.unlink(missing_ok=True)
        return None
    if kind == "image":
        path = _resolve(folder_root, op["file"])
        filename = clean_text(op.get("filename") or path.name, "image file name")
        with open(path, "rb") as fh:
            media = client.request(
                "POST", f"{base}/media", params={"filename": filename}, data=fh,
                headers={"Content-Type": "application/octet-stream"},
            ).json()
        event = dict(op["event"], uri=media["uri"])
        resp = _send_json(client, "POST", f"{base}/events", {"batch_id": op["batch_id"], "events": [event]})
        if op.get("delete_after"):
            path.unlink(missing_ok=True)
        return resp
    raise ValueError(f"unknown operation {kind!r}")


def with_rejection_note(op: dict[str, Any], folder: SessionFolder) -> dict[str, Any]:
    """The task's final status action, carrying in its message how many operations the server refused.

    Operations go in order, so when the final action is sent every refusal before it is in
    `rejected/` already: the folder is the count, for the live sender and for a replay alike.
    """
    if op.get("op") != "action" or op.get("action") not in TERMINAL_ACTIONS:
        return op
    count = folder.rejected_count()
    if not count:
        return op
    body = dict(op.get("body") or {})
    note = f"{count} operation(s) rejected by the server, see {folder.rejected_dir}"
    body["message"] = f"{body['message']} · {note}" if body.get("message") else note
    return {**op, "body": body}


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
        spool_dir: the session folder used for overflow, outages, refusals and offline sessions.
        interval: seconds between batches (the most a kill -9 can lose).
        heartbeat_interval: seconds between heartbeats (they carry an abort from outside).
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
        on_stop_requested: Callable[[], None] | None = None,
        spool_meta: dict[str, Any] | None = None,
    ):
        self.client = client
        self.task_id = task_id
        self.folder = SessionFolder(spool_dir)
        self.interval = interval
        self.heartbeat_interval = heartbeat_interval
        self.max_memory_points = max_memory_points
        self.on_stop_requested = on_stop_requested
        self._spool_meta = spool_meta or {"task_id": task_id, "api_url": client.url if client else None}
        self._sources: list[Source] = []
        self._sizes: list[Callable[[], int]] = []
        self.batch_points = MAX_POINTS_PER_BATCH
        self._queue: collections.deque[dict | _Spooled] = collections.deque()
        self._queue_lock = threading.Lock()
        self._memory_points = 0
        self._outage = False  # the last delivery attempt was answered "later" (or not at all)
        self._session = uuid.uuid4().hex[:12]
        self._seq = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._cond = threading.Condition()
        self._flush_requested = 0
        self._flushed = 0
        self._backoff = 0.0
        self._next_attempt = 0.0  # our own backoff: a person waiting (flush, close) may cut it short
        self._server_wait_until = 0.0  # the server's Retry-After: always honoured
        self._unexpected_seq = -1
        self._unexpected_count = 0
        self._last_heartbeat = time.monotonic()
        self._seen_running = False  # a heartbeat said in_progress: a later "stopped" is an abort
        self._ended = False  # the final status action was delivered
        self._stop_notified = False
        self.last_error: str | None = None
        self.sent_batches = 0
        self.rejected = 0
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

    @property
    def stopping(self) -> bool:
        """Whether `close()` was called: operations queued now would never be sent."""
        return self._stopping.is_set()

    def wake(self) -> None:
        """Send what is buffered now rather than at the next interval."""
        self._wake.set()

    def is_sender_thread(self) -> bool:
        return threading.current_thread() is self._thread

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
        self._next_attempt = 0.0  # a person is waiting: retry now, not after our backoff
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
            return sum(_entry_points(e) for e in self._queue)

    def close(self, timeout: float = 30.0) -> str | None:
        """Send what remains (waiting at most `timeout` seconds), spool the rest, stop the thread.

        Returns a message for a person when something could not be sent or was refused, else `None`.
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
                # Whatever failed, queued operations are still queued (in memory or on disk) and
                # are tried again on the next cycle; close() spools what remains.
                self.last_error = f"{type(exc).__name__}: {exc}"
                warn_once(f"sender\0{self.last_error}",
                          f"labtrack: sender error: {self.last_error}; unsent data stays queued and is retried")
            now = time.monotonic()
            if now >= next_batch:
                next_batch = now + self.interval
            wait = next_batch - now
            if self._queue:
                retry_at = max(self._next_attempt, self._server_wait_until)
                if retry_at > now:
                    wait = min(wait, retry_at - now)
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
                # While the server cannot take data, what is collected goes to disk each interval, so a
                # process killed during the outage leaves it for the next run to replay (orphans.py).
                self._spool_memory()

    def _ensure_folder(self) -> None:
        if not self.folder.exists():
            # Who writes this folder: a later process replays it only once this one is gone, and
            # then knows whether it ended without a status (replay.py).
            self.folder.create({**self._spool_meta, "owner": owner_marker()})

    def _spool_memory(self) -> None:
        """Move every in-memory operation to disk, keeping queue order (caller holds the lock)."""
        self._ensure_folder()
        for i, entry in enumerate(self._queue):
            if isinstance(entry, dict):
                path = self.folder.write_op(entry["seq"], entry)
                self._queue[i] = _Spooled(entry["seq"], path, _entry_points(entry))
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
            now = time.monotonic()
            if now < self._next_attempt or now < self._server_wait_until:
                return False
            if deadline is not None and now > deadline:
                return False
            if not self._deliver_one(entry):
                return False
            with self._queue_lock:
                self._queue.popleft()
                if isinstance(entry, _Spooled):
                    entry.path.unlink(missing_ok=True)
                else:
                    self._memory_points -= _entry_points(entry)

    def _deliver_one(self, entry: dict | _Spooled) -> bool:
        """Try the first queued operation; True when it is done with (sent, or set aside)."""
        assert self.client is not None
        if isinstance(entry, _Spooled):
            try:
                op = self.folder.read_op(entry.path)
            except (OSError, ValueError) as exc:  # a spooled file damaged or removed under us
                self._reject({"op": "unreadable", "seq": entry.seq, "file": str(entry.path)},
                             f"the spooled operation could not be read back: {exc}", None)
                return True
        else:
            op = entry
        op = with_rejection_note(op, self.folder)
        try:
            resp = deliver_op(self.client, self.task_id, op, self.folder.root)
        except ServerUnreachable as exc:
            self._retry_later(str(exc), None)
            return False
        except ApiError as exc:
            if retry_later(exc):
                self._retry_later(str(exc), exc.retry_after)
                return False
            if already_applied(exc):
                self._succeeded(op, None)
            else:
                self._reject(op, str(exc), exc.answer())
            return True
        except OSError as exc:  # a staged file vanished: nothing to send, say so
            self._reject(op, f"local file problem: {exc}", None)
            return True
        except Exception as exc:
            # Neither the network nor the server's answer: a bug, or a value no repair helps.
            # Retried a few times (it may pass), then set aside so it never blocks what follows.
            return self._unexpected(op, exc)
        self._succeeded(op, resp)
        return True

    def _retry_later(self, message: str, retry_after: float | None) -> None:
        """The server cannot take the operation now: back off (or wait as asked), spool to disk."""
        self.last_error = message
        self._backoff = min(max(self._backoff * 2, 0.25), 8.0)
        now = time.monotonic()
        self._next_attempt = now + self._backoff
        if retry_after is not None:
            self._server_wait_until = now + min(retry_after, MAX_RETRY_AFTER)
        with self._queue_lock:
            self._outage = True
            self._spool_memory()

    def _unexpected(self, op: dict[str, Any], exc: Exception) -> bool:
        seq = op.get("seq", 0)
        if seq != self._unexpected_seq:
            self._unexpected_seq, self._unexpected_count = seq, 0
        self._unexpected_count += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self._unexpected_count < UNEXPECTED_ATTEMPTS:
            warn_once(f"unexpected\0{seq}", f"labtrack: could not send an operation ({op.get('op')}): "
                                            f"{self.last_error}; it stays queued and is tried again")
            self._backoff = min(max(self._backoff * 2, 0.25), 8.0)
            self._next_attempt = time.monotonic() + self._backoff
            return False
        self._reject(op, f"could not be sent: {self.last_error}", None)
        return True

    def _succeeded(self, op: dict[str, Any], resp: dict | None) -> None:
        self._outage = False
        self._backoff = 0.0
        self._next_attempt = 0.0
        self._server_wait_until = 0.0
        self.sent_batches += 1
        if op.get("op") == "action" and op.get("action") in TERMINAL_ACTIONS:
            self._ended = True
        if resp and resp.get("stop_requested"):
            self._notify_stop()

    def _reject(self, op: dict[str, Any], reason: str, answer: dict[str, Any] | None) -> None:
        """Set an operation aside in `rejected/` (with the server's answer); it never blocks the queue."""
        self._ensure_folder()
        path = self.folder.reject(op.get("seq", 0), op, reason, answer)
        self.rejected += 1
        status = answer.get("status") if answer else None
        warn_once(f"rejected\0{self.folder.root}\0{op.get('op')}\0{status}",
                  f"labtrack: the server refused an operation ({op.get('op')}): {reason}. Kept in {path} "
                  "(further refusals like it are only counted)")

    def _notify_stop(self) -> None:
        if self._ended or self._stop_notified or self.on_stop_requested is None:
            return
        self._stop_notified = True
        try:
            self.on_stop_requested()
        except Exception as exc:
            self.last_error = f"stop callback failed: {exc}"

    def _maybe_heartbeat(self) -> None:
        """Every heartbeat interval, data flowing or not: a force-stop only shows in its answer."""
        if self.client is None or time.monotonic() - self._last_heartbeat < self.heartbeat_interval:
            return
        self._last_heartbeat = time.monotonic()  # also when it fails: no hammering a dead server
        try:
            resp = self.client.post(f"/tasks/{self.task_id}/heartbeat")
        except (ServerUnreachable, ApiError):
            return
        if not isinstance(resp, dict):
            return
        status = resp.get("status")
        if status == "in_progress":
            self._seen_running = True
        # Stopped from outside: a stop request while running, or a forced stop that already ended the
        # task on the server (a task attached after it ended is not running, and is not interrupted).
        if resp.get("stop_requested") or (status == "stopped" and self._seen_running):
            self._notify_stop()

    def stop_requested_now(self) -> bool:
        """Ask the server once, at once (a few seconds at most), whether someone asked this task to stop.

        For a process ending on SIGTERM: an agent sends it on an abort that its own heartbeat saw
        before ours did, and the task should then say `aborted`, not `SIGTERM`. False when unknown.
        """
        if self.client is None:
            return False
        try:
            resp = self.client.request("POST", f"/tasks/{self.task_id}/heartbeat", json={}, timeout=(1.0, 2.0))
            answer = resp.json() if resp.content else {}
        except (ServerUnreachable, ApiError, ValueError):
            return False
        return isinstance(answer, dict) and bool(answer.get("stop_requested"))

    def heartbeat_now(self) -> None:
        """Force a heartbeat on the next cycle (used right after start)."""
        self._last_heartbeat = 0.0
        self._wake.set()

    def _drain_until_deadline(self) -> None:
        deadline = getattr(self, "_close_deadline", time.monotonic() + 30)
        self._collect(final=True)
        while time.monotonic() < deadline:
            if self._deliver(deadline):
                break
            retry_at = max(self._next_attempt, self._server_wait_until)
            sleep_for = min(max(retry_at - time.monotonic(), 0.05), deadline - time.monotonic())
            if sleep_for > 0:
                time.sleep(sleep_for)
        with self._cond:
            if not self._queue:
                self._flushed = self._flush_requested
            self._cond.notify_all()

    def _finish(self) -> None:
        with self._queue_lock:
            count = len(self._queue)
            points = sum(_entry_points(e) for e in self._queue)
            if count:
                self._spool_memory()
        refused = ""
        if self.rejected:
            refused = (f"labtrack: the server refused {self.rejected} operation(s) of task {self.task_id}; "
                       f"they are kept, with its answers, in {self.folder.rejected_dir}")
        if not count:
            if self.client is not None and self.folder.exists() and not self.folder.rejected_dir.exists():
                _remove_empty_spool(self.folder)
            self.final_report = refused or None
            return
        self.final_report = (
            f"labtrack: {count} batch(es) ({points} events) for task {self.task_id} could not be sent "
            f"to {self.client.url if self.client else 'the server'} ({self.last_error or 'timed out'}). "
            f"They are kept in {self.folder.root}; upload them later with: labtrack sync {self.folder.root}"
        ) + (f"\n{refused}" if refused else "")


def _entry_points(entry: dict | _Spooled) -> int:
    """Points a queued operation counts for (a metadata operation counts as one)."""
    if isinstance(entry, _Spooled):
        return entry.points
    return sum(event_points(e) for e in entry.get("events", ())) or 1


def _remove_empty_spool(folder: SessionFolder) -> None:
    """Remove a spool folder that holds nothing left to send."""
    if folder.pending_count() == 0:
        shutil.rmtree(folder.root, ignore_errors=True)
