"""Content-addressed blobs (dataset file bytes) on top of the artifact byte store.

A blob is stored under `blobs/<first two hex>/<sha256>`. Bytes stream into a hidden temporary
object and become the blob only after their sha256 matched the name they were sent under, so a
wrong or cut-off upload never becomes a blob and never overwrites one: the invariant is that a
stored blob's bytes always hash to its name.
"""

from __future__ import annotations

import hashlib
import re
from typing import IO, AsyncIterator, Awaitable, Callable

from anyio import to_thread

from labtrack.server.errors import Invalid, LabtrackError
from labtrack.server.storage.store import ArtifactStorage
from labtrack.server.storage.uploads import receive

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class HashMismatch(LabtrackError):
    """The uploaded bytes do not hash to the name they were sent under (nothing was stored)."""

    status = 422
    code = "hash_mismatch"


def check_sha256(value: str, where: str = "sha256") -> str:
    """A lowercase hex sha256, or Invalid."""
    if not isinstance(value, str) or not _SHA256.match(value):
        raise Invalid(f"{where} must be 64 lowercase hex digits (a sha256), got {str(value)[:80]!r}.",
                      [{"loc": ["path", where], "msg": "not a sha256"}])
    return value


def _parts(sha256: str) -> list[str]:
    return ["blobs", sha256[:2], sha256]


class BlobStore:
    """Put, open and check content-addressed blobs in an `ArtifactStorage`."""

    def __init__(self, storage: ArtifactStorage, max_bytes: int) -> None:
        self.storage = storage
        self.max_bytes = max_bytes

    async def put(self, sha256: str, chunks: AsyncIterator[bytes], expected_size: int | None = None) -> int:
        """Stream bytes in and commit them as blob `sha256`; returns the size.

        Raises HashMismatch when the bytes hash to something else (or their size differs from
        `expected_size`); the temporary object is removed and no blob changes.
        """
        check_sha256(sha256)
        pending = await receive(self.storage, _parts(sha256)[:2], self.max_bytes, chunks)
        got = pending.sha256()
        if got != sha256 or (expected_size is not None and pending.size != expected_size):
            await to_thread.run_sync(pending.abort)
            raise HashMismatch(
                f"The uploaded bytes hash to {got} ({pending.size} bytes), not to {sha256}"
                + (f" ({expected_size} bytes)" if expected_size is not None else "")
                + ": the file changed while it was read, or the transfer was damaged. Nothing was stored; "
                "hash the file again and re-send it.",
                {"expected": sha256, "received": got, "size": pending.size, "expected_size": expected_size},
            )
        stored = await to_thread.run_sync(pending.commit, _parts(sha256))
        return stored.size

    def put_bytes(self, sha256: str, data: bytes) -> None:
        """Commit a small blob held in memory (one blocking call: no per-chunk thread hops).

        Raises HashMismatch, storing nothing, when the bytes hash to something else.
        """
        got = hashlib.sha256(data).hexdigest()
        if got != sha256:
            raise HashMismatch(f"The uploaded bytes hash to {got}, not to {sha256}: nothing was stored.",
                               {"expected": sha256, "received": got, "size": len(data)})
        pending = self.storage.begin_write(_parts(sha256)[:2], self.max_bytes)
        try:
            pending.write(data)
        except BaseException:
            pending.abort()
            raise
        pending.commit(_parts(sha256))

    def open(self, sha256: str) -> IO[bytes]:
        """An open stream of a blob's bytes (FileNotFoundError when absent)."""
        return self.storage.open_read(_parts(check_sha256(sha256)))

    def exists(self, sha256: str) -> bool:
        """Whether a blob's bytes are in the store."""
        return self.storage.exists(_parts(check_sha256(sha256)))


# -- batches: many small blobs in one request body ------------------------------------------------
# A batch body is frames back to back: an ASCII header line "<sha256> <size>\n", then exactly
# <size> bytes. One request carries many small files, so their per-request cost is paid once.
MAX_HEADER = 100


class BadFrame(LabtrackError):
    """A batch body that does not follow the frame format."""

    status = 400
    code = "bad_request"


class FrameReader:
    """Reads frames off an async byte stream, each frame's bytes as an async iterator of their own."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks.__aiter__()
        self._buffer = bytearray()
        self._ended = False

    async def _fill(self) -> bool:
        if self._ended:
            return False
        try:
            self._buffer += await self._chunks.__anext__()
        except StopAsyncIteration:
            self._ended = True
            return False
        return True

    async def header(self) -> tuple[str, int] | None:
        """The next frame's (sha256, size), or None at the end of the body."""
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_HEADER or not await self._fill():
                if not self._buffer:
                    return None
                raise BadFrame("A blob batch frame must start with '<sha256> <size>\\n'.")
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        parts = line.decode("ascii", "replace").split(" ")
        if len(parts) != 2 or not parts[1].isdigit():
            raise BadFrame(f"Bad blob batch frame header {line[:MAX_HEADER]!r}: expected '<sha256> <size>'.")
        return check_sha256(parts[0]), int(parts[1])

    async def body(self, size: int) -> AsyncIterator[bytes]:
        """Exactly `size` bytes of the current frame (raises BadFrame if the stream ends first)."""
        left = size
        while left:
            if not self._buffer and not await self._fill():
                raise BadFrame(f"The blob batch ended {left} bytes before its frame did.")
            piece = bytes(self._buffer[:left])
            del self._buffer[: len(piece)]
            left -= len(piece)
            yield piece


async def drain(chunks: AsyncIterator[bytes]) -> None:
    """Read an iterator to its end (skipping a frame's bytes)."""
    async for _chunk in chunks:
        pass


FrameHandler = Callable[[str, int, AsyncIterator[bytes]], Awaitable[str]]


async def read_frames(chunks: AsyncIterator[bytes], handle: FrameHandler) -> dict[str, list[str]]:
    """Call `handle(sha256, size, body)` for each frame; it returns an outcome name, the answer groups them.

    Whatever `handle` leaves unread of a frame is skipped, so one refused blob never stops the rest.
    """
    reader = FrameReader(chunks)
    outcomes: dict[str, list[str]] = {}
    while (frame := await reader.header()) is not None:
        sha256, size = frame
        body = reader.body(size)
        outcome = await handle(sha256, size, body)
        await drain(body)
        outcomes.setdefault(outcome, []).append(sha256)
    return outcomes
