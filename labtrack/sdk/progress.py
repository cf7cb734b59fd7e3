"""Progress lines for long transfers, so a person waiting on a big artifact sees it move.

Plain lines every few seconds rather than a redrawn bar: uploads run on the background sender,
whose output interleaves with the training loop's own prints, in a terminal, a log file or a
notebook cell alike.
"""

from __future__ import annotations

import time
from typing import IO, Callable

# Smaller transfers finish before anyone would look at a progress line.
MIN_REPORTED_BYTES = 16 * 1024 * 1024
REPORT_EVERY_S = 2.0


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


class TransferProgress:
    """Count transferred bytes and write `labtrack: <what> 45% (90.0 / 200.0 MB)` now and then."""

    def __init__(self, what: str, total: int | None, write: Callable[[str], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.what = what
        self.total = total or 0
        self.done = 0
        self._write = write
        self._clock = clock
        self._started = clock()
        self._last_report = self._started
        self.enabled = self.total >= MIN_REPORTED_BYTES

    def advance(self, nbytes: int) -> None:
        self.done += nbytes
        if self.enabled and self._clock() - self._last_report >= REPORT_EVERY_S:
            self._report()

    def finish(self) -> None:
        if self.enabled:
            self._report()

    def _report(self) -> None:
        now = self._clock()
        self._last_report = now
        rate = self.done / max(now - self._started, 1e-6)
        percent = min(100, int(100 * self.done / self.total))
        self._write(f"labtrack: {self.what} {percent}% ({_megabytes(self.done)} / {_megabytes(self.total)}, "
                    f"{_megabytes(int(rate))}/s)")


class CountingReader:
    """A read-only file wrapper that reports each read to a `TransferProgress` (for streamed uploads)."""

    def __init__(self, fh: IO[bytes], size: int, progress: TransferProgress) -> None:
        self._fh = fh
        self._size = size
        self._progress = progress

    def __len__(self) -> int:  # requests sends Content-Length from this
        return self._size

    def read(self, n: int = -1) -> bytes:
        chunk = self._fh.read(n)
        self._progress.advance(len(chunk))
        return chunk
