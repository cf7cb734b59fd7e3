"""Content-addressed blobs (dataset file bytes) on top of the artifact byte store.

A blob is stored under `blobs/<first two hex>/<sha256>`. Bytes stream into a hidden temporary
object and become the blob only after their sha256 matched the name they were sent under, so a
wrong or cut-off upload never becomes a blob and never overwrites one: the invariant is that a
stored blob's bytes always hash to its name.
"""

from __future__ import annotations

import re
from typing import IO, AsyncIterator

from anyio import to_thread

from labtrack.server.errors import Invalid, LabtrackError
from labtrack.server.storage.store import ArtifactStorage, PendingWrite

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_WRITE_SIZE = 1024 * 1024  # hand the blocking write ~1 MiB at a time, not per network chunk


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
        pending: PendingWrite = await to_thread.run_sync(self.storage.begin_write, _parts(sha256)[:2], self.max_bytes)
        buffer = bytearray()
        try:
            async for chunk in chunks:
                buffer += chunk
                if len(buffer) >= _WRITE_SIZE:
                    await to_thread.run_sync(pending.write, bytes(buffer))
                    buffer.clear()
            if buffer:
                await to_thread.run_sync(pending.write, bytes(buffer))
            got = pending.sha256()
            if got != sha256 or (expected_size is not None and pending.size != expected_size):
                raise HashMismatch(
                    f"The uploaded bytes hash to {got} ({pending.size} bytes), not to {sha256}"
                    + (f" ({expected_size} bytes)" if expected_size is not None else "")
                    + ": the file changed while it was read, or the transfer was damaged. Nothing was stored; "
                    "hash the file again and re-send it.",
                    {"expected": sha256, "received": got, "size": pending.size, "expected_size": expected_size},
                )
        except BaseException:
            await to_thread.run_sync(pending.abort)
            raise
        stored = await to_thread.run_sync(pending.commit, _parts(sha256))
        return stored.size

    def open(self, sha256: str) -> IO[bytes]:
        """An open stream of a blob's bytes (FileNotFoundError when absent)."""
        return self.storage.open_read(_parts(check_sha256(sha256)))

    def exists(self, sha256: str) -> bool:
        """Whether a blob's bytes are in the store."""
        return self.storage.exists(_parts(check_sha256(sha256)))
