"""The task's console, streamed live: the child's stdout/stderr and the agent's own notes.

Writers (the pipe readers, the agent) only append text to a bounded in-memory buffer; one
background thread sends it every `interval` as console events, in whole lines (a partial line is
held back one interval, so `\\r` progress bars and slow writers still arrive). A batch keeps its
batch id until the server acknowledges it, so a retry after a timeout never duplicates lines.
Invariant: what was written is sent once, in order, unless the server stays unreachable long
enough for the buffer to pass its bound; then the oldest text is dropped and a note says so.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from typing import IO, Any

from labtrack.sdk.client import ApiClient
from labtrack.sdk.encoding import dumps
from labtrack.sdk.errors import ApiError, ServerUnreachable, retry_later

MAX_EVENT_CHARS = 64_000  # one console event's text (the server accepts up to 1 MiB)
MAX_BATCH_CHARS = 4 << 20
AGENT_PREFIX = "[labtrack agent] "


class ConsoleStream:
    """Batches console text for one task and posts it to `/tasks/{id}/events` on a thread."""

    def __init__(self, client: ApiClient, task_id: str, interval: float = 0.5, echo: IO[str] | None = None,
                 max_buffer_chars: int = 32 << 20):
        self._client = client
        self._task_id = task_id
        self.interval = interval
        self._echo = echo
        self._max_buffer = max_buffer_chars
        self._lock = threading.Lock()
        self._pending: list[tuple[str, str, float]] = []  # (stream, text, time) not yet batched
        self._partial: dict[str, tuple[str, float]] = {}  # stream -> held-back line start
        self._batch: tuple[str, list[dict[str, Any]]] | None = None  # built, not yet acknowledged
        self._buffered = 0
        self._dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="labtrack-agent-console", daemon=True)
        self.failures = 0

    def start(self) -> "ConsoleStream":
        self._thread.start()
        return self

    def write(self, stream: str, text: str) -> None:
        """Append text written by the child (`stream` is "stdout" or "stderr")."""
        if not text:
            return
        if self._echo is not None:
            try:
                self._echo.write(text)
                self._echo.flush()
            except (OSError, ValueError):
                pass
        with self._lock:
            self._pending.append((stream, text, time.time()))
            self._buffered += len(text)
            while self._buffered > self._max_buffer and self._pending:
                _, dropped, _ = self._pending.pop(0)
                self._buffered -= len(dropped)
                self._dropped += len(dropped)

    def note(self, text: str) -> None:
        """A line from the agent itself (environment, code, status), marked as such."""
        self.write("stdout", AGENT_PREFIX + text.rstrip("\n") + "\n")

    def close(self, timeout: float = 15.0) -> bool:
        """Send everything left (partial lines too) within `timeout`; True when all arrived."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive() and self._batch is None and not self._pending

    # -- the sender thread ---------------------------------------------------------------------

    def _lines(self, final: bool) -> list[dict[str, Any]]:
        """Take pending text as console events of whole lines (all of it when `final`)."""
        with self._lock:
            pending, self._pending = self._pending, []
            self._buffered = 0
            dropped, self._dropped = self._dropped, 0
        events: list[dict[str, Any]] = []
        if dropped:
            events.append({"type": "console", "stream": "stderr", "time": time.time(),
                           "text": f"{AGENT_PREFIX}{dropped} characters of console output were dropped "
                                   "(the server was unreachable too long)\n"})
        for stream, text, at in pending:
            held, held_at = self._partial.pop(stream, ("", at))
            text = held + text
            cut = text.rfind("\n") + 1
            if cut < len(text):
                self._partial[stream] = (text[cut:], held_at if held else at)
            if cut:
                events.extend(_events(stream, text[:cut], held_at if held else at))
        # A partial line waits one interval at most, then goes as it is.
        for stream, (text, at) in list(self._partial.items()):
            if final or time.time() - at >= self.interval:
                del self._partial[stream]
                events.extend(_events(stream, text, at))
        return events

    def _send_once(self, final: bool) -> bool:
        """Send the unacknowledged batch, else the next one; False when the server can't take it now."""
        if self._batch is None:
            events = self._lines(final)
            if not events:
                return True
            self._batch = (uuid.uuid4().hex, events)
        batch_id, events = self._batch
        try:
            self._client.request("POST", f"/tasks/{self._task_id}/events",
                                 data=dumps({"batch_id": batch_id, "events": events}),
                                 headers={"Content-Type": "application/json"})
        except ServerUnreachable:
            self.failures += 1
            return False
        except ApiError as exc:
            if retry_later(exc):
                self.failures += 1
                return False
            # Refused for what it is (e.g. the task was deleted): nothing a retry would change.
            print(f"{AGENT_PREFIX}console batch refused by the server: {exc}", file=sys.stderr)
        self._batch = None
        return True

    def _run(self) -> None:
        backoff = self.interval
        while not self._stop.wait(backoff):
            backoff = self.interval if self._send_once(final=False) else min(backoff * 2, 10.0)
        # Final flush: a bounded number of tries, then give up (the caller's close() timeout bounds it too).
        for attempt in range(5):
            if self._send_once(final=True) and self._batch is None and not self._pending and not self._partial:
                return
            time.sleep(min(0.2 * 2 ** attempt, 2.0))


def _events(stream: str, text: str, at: float) -> list[dict[str, Any]]:
    return [{"type": "console", "stream": stream, "text": text[i:i + MAX_EVENT_CHARS], "time": at}
            for i in range(0, len(text), MAX_EVENT_CHARS)]
