"""Moving dataset bytes: streamed, parallel uploads of blobs and a verified local blob cache.

Uploads send each file in 1 MiB chunks while hashing them; the server stores the bytes only when
they hash to the name they were sent under, so a file that changes mid-upload is refused whole and
reported, never stored half-changed. Downloads land in a temporary file beside the cache entry
and are renamed into place only after their sha256 matched: the cache never holds unverified
bytes under a hash's name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import requests

from labtrack.sdk import transfer
from labtrack.sdk.client import ApiClient
from labtrack.sdk.dataset_files import CorruptedCopyError, Progress, default_workers, parallel_map
from labtrack.sdk.errors import ApiError, ServerUnreachable
from labtrack.sdk.transfer import CHUNK, RETRIES, discard, sha256_file

# Each blob gets RETRIES tries for transport problems; a changed file is not retried: it is reported.
# Files up to SMALL_FILE go up many to a request (POST /blobs frames), so a folder of small files
# pays the per-request cost once per batch instead of once per file.
SMALL_FILE = 1024 * 1024
BATCH_BYTES = 8 * 1024 * 1024
BATCH_FILES = 200


def cache_root() -> Path:
    """Where local copies live: `LABTRACK_DATASET_CACHE`, else `<labtrack home or user cache>/datasets`."""
    return transfer.cache_root("datasets", "LABTRACK_DATASET_CACHE")


@dataclass
class Upload:
    sha256: str
    size: int
    source: Path


@dataclass
class UploadReport:
    uploaded: int = 0
    bytes_sent: int = 0
    already_stored: int = 0
    changed: list[Path] | None = None


def _chunks(source: Path, on_bytes: Callable[[int], None]) -> Iterator[bytes]:
    with open(source, "rb") as fh:
        while chunk := fh.read(CHUNK):
            on_bytes(len(chunk))
            yield chunk


def _pause(attempt: int, exc: Exception) -> None:
    time.sleep(transfer.retry_wait(attempt, exc))


class _TryBytes:
    """Bytes one try sent, counted on the progress bar, and taken off it again if the try fails."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.sent = 0

    def __call__(self, nbytes: int) -> None:
        self.sent += nbytes
        self.bar.update(nbytes)

    def undo(self) -> None:
        self.bar.update(-self.sent)


S = TypeVar("S")


def batches(items: list[S], size_of: Callable[[S], int]) -> list[list[S]]:
    """Small items grouped up to BATCH_BYTES / BATCH_FILES per request; each big one alone."""
    batches: list[list[S]] = []
    current: list[S] = []
    current_bytes = 0
    for item in sorted(items, key=size_of):
        size = size_of(item)
        if size > SMALL_FILE:
            batches.append([item])
            continue
        if current and (current_bytes + size > BATCH_BYTES or len(current) >= BATCH_FILES):
            batches.append(current)
            current, current_bytes = [], 0
        current.append(item)
        current_bytes += size
    if current:
        batches.append(current)
    return batches


def _frames(items: list[Upload], on_bytes: Callable[[int], None]) -> Iterator[bytes]:
    """A batch body: per file a `<sha256> <size>\\n` header, then its bytes (read as they go)."""
    for item in items:
        yield f"{item.sha256} {item.size}\n".encode()
        sent = 0
        try:
            for chunk in _chunks(item.source, on_bytes):
                if sent + len(chunk) > item.size:  # the file grew: send what the header promised
                    chunk = chunk[: item.size - sent]
                sent += len(chunk)
                yield chunk
                if sent == item.size:
                    break
        except OSError:
            pass
        if sent < item.size:  # the file shrank or vanished: pad, and the server's hash check refuses it
            yield b"\0" * (item.size - sent)


def upload_blobs(client: ApiClient, uploads: list[Upload], *, show_progress: bool, workers: int | None = None) -> UploadReport:
    """Send each blob's bytes (streamed, in parallel; small files batched); changed files are reported, not sent."""
    report = UploadReport(changed=[])
    with Progress("uploading", sum(u.size for u in uploads), show_progress) as bar:

        def batch(items: list[Upload]) -> list[tuple[Upload, str, int]]:
            """One POST /blobs for many small files; a refused one goes on alone through `one`."""
            if len(items) == 1:
                return [(items[0], *one(items[0]))]
            for attempt in range(RETRIES):
                count = _TryBytes(bar)
                try:
                    answer = client._call("POST", "/blobs", data=_frames(items, count),
                                          headers={"Content-Type": "application/octet-stream"})
                    break
                except (ServerUnreachable, ApiError) as exc:
                    count.undo()
                    if (isinstance(exc, ApiError) and exc.status < 500 and exc.status != 429) or attempt == RETRIES - 1:
                        raise
                    _pause(attempt, exc)
            outcome = {sha: name for name, hashes in answer.items() for sha in hashes}
            done = []
            for item in items:
                result = outcome.get(item.sha256, "mismatched")
                if result in ("stored", "had"):
                    done.append((item, result, item.size if result == "stored" else 0))
                else:  # changed since add (or damaged on the way): the single path sorts it out
                    bar.update(-item.size)
                    done.append((item, *one(item)))
            return done

        def one(item: Upload) -> tuple[str, int]:
            for attempt in range(RETRIES):
                count = _TryBytes(bar)
                try:
                    answer = client._call("PUT", f"/blobs/{item.sha256}", data=_chunks(item.source, count),
                                          headers={"Content-Type": "application/octet-stream"})
                    return ("stored" if answer.get("created") else "had"), count.sent
                except FileNotFoundError:
                    return "changed", 0
                except ApiError as exc:
                    count.undo()
                    if exc.code == "hash_mismatch":
                        # The bytes read differ from those hashed at add time: the file changed.
                        try:
                            now_sha, _size = sha256_file(item.source)
                        except OSError:
                            return "changed", 0
                        if now_sha != item.sha256:
                            return "changed", 0
                    elif exc.status < 500 and exc.status != 429:
                        raise
                    if attempt == RETRIES - 1:
                        raise
                    _pause(attempt, exc)
                except ServerUnreachable as exc:
                    count.undo()
                    if attempt == RETRIES - 1:
                        raise
                    _pause(attempt, exc)
            raise AssertionError("unreachable")

        results = [r for done in parallel_map(batch, batches(uploads, lambda u: u.size), workers or default_workers()) for r in done]
        for item, outcome, sent in results:
            if outcome == "stored":
                report.uploaded += 1
                report.bytes_sent += sent
            elif outcome == "had":
                report.already_stored += 1
            else:
                assert report.changed is not None
                report.changed.append(item.source)
    return report


class BlobCache:
    """Verified blobs on local disk (`<root>/blobs/ab/<sha256>`, read-only), fetched on demand."""

    def __init__(self, client: ApiClient, root: Path | None = None) -> None:
        self.client = client
        self.root = root or cache_root()

    def path(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256[:2] / sha256

    def verified(self, sha256: str, size: int) -> Path | None:
        """The cached blob if its bytes hash to its name; a damaged one is deleted."""
        target = self.path(sha256)
        try:
            if target.stat().st_size == size and sha256_file(target)[0] == sha256:
                return target
        except OSError:
            return None
        discard(target)
        return None

    def store(self, sha256: str, size: int, chunks: Iterator[bytes], on_bytes: Callable[[int], None] | None = None) -> Path:
        """Write downloaded bytes into the cache; they take the blob's name only once their sha256 matched."""
        target = self.path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)

        def damaged(got_sha256: str, got: int) -> CorruptedCopyError:
            return CorruptedCopyError(
                f"The server sent {got} bytes hashing to {got_sha256} for blob {sha256} ({size} bytes): "
                "its stored copy may be damaged; tell the server's operator."
            )

        return transfer.write_verified(target, chunks, sha256, size=size, on_bytes=on_bytes, mismatch=damaged)

    def fetch(self, sha256: str, size: int, on_bytes: Callable[[int], None] | None = None) -> Path:
        """Download one blob into the cache (verified before it takes its name) and return its path."""
        for attempt in range(RETRIES):
            try:
                return self.store(sha256, size, self.client.download(f"/blobs/{sha256}", CHUNK), on_bytes)
            except ServerUnreachable as exc:
                if attempt == RETRIES - 1:
                    raise
                _pause(attempt, exc)
        raise AssertionError("unreachable")


class _FrameStream:
    """Frames (`<sha256> <size>\\n` + bytes) read off a response's chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()

    def header(self) -> tuple[str, int] | None:
        while b"\n" not in self._buffer:
            more = next(self._chunks, None)
            if more is None:
                if self._buffer:
                    raise CorruptedCopyError("The server's blob stream broke off inside a frame header.")
                return None
            self._buffer += more
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        sha256, _, size = line.decode("ascii", "replace").partition(" ")
        return sha256, int(size)

    def body(self, size: int) -> Iterator[bytes]:
        left = size
        while left:
            if not self._buffer:
                more = next(self._chunks, None)
                if more is None:
                    raise ServerUnreachable(f"the blob stream ended {left} bytes early")
                self._buffer += more
            piece = bytes(self._buffer[:left])
            del self._buffer[: len(piece)]
            left -= len(piece)
            yield piece


def fetch_many(cache: "BlobCache", items: list[tuple[str, int]], on_bytes: Callable[[int], None]) -> dict[str, Path]:
    """Download many small blobs in one request (POST /blobs/download), each verified before it is cached."""
    wanted = dict(items)
    done: dict[str, Path] = {}
    try:
        resp = cache.client.request("POST", "/blobs/download", json={"hashes": list(wanted)}, stream=True)
        with resp:
            frames = _FrameStream(resp.iter_content(CHUNK))
            while (frame := frames.header()) is not None:
                sha256, size = frame
                if sha256 not in wanted:
                    raise CorruptedCopyError(f"The server sent blob {sha256[:80]!r}, which was not asked for.")
                done[sha256] = cache.store(sha256, wanted[sha256], frames.body(size), on_bytes)
    except (ServerUnreachable, requests.RequestException):
        pass  # what did not arrive is fetched one by one below, with retries
    for sha256, size in items:
        if sha256 not in done:
            done[sha256] = cache.fetch(sha256, size, on_bytes)
    return done


def place(blob: Path, target: Path, *, linked: bool) -> None:
    """Put a cached blob at `target`: a hard link (read-only copies share the bytes) or a writable copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    discard(target)
    if linked:
        try:
            os.link(blob, target)
            return
        except OSError:  # another filesystem, or links unsupported: copy instead
            pass
        shutil.copyfile(blob, target)
        os.chmod(target, 0o444)
        return
    shutil.copyfile(blob, target)
    os.chmod(target, 0o644)


@contextlib.contextmanager
def folder_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes filling the same cached copy (no-op where fcntl is missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


__all__ = ["BlobCache", "Upload", "UploadReport", "batches", "cache_root", "fetch_many", "folder_lock", "place",
           "upload_blobs"]
