"""Uploads streamed into the byte store: one path for artifacts, media, model weights and blobs.

The size limit is checked twice: up front against the declared length (a clear 413 before any
byte is read), and again by the pending write as bytes arrive (a client may lie or send no
length). Network chunks (~64 KiB) are gathered into ~1 MiB writes so the blocking store is called
once per MiB, not once per chunk. Invariant: a receive that fails leaves nothing behind.
"""

from __future__ import annotations

from typing import AsyncIterator

from anyio import to_thread

from labtrack.server.errors import TooLarge
from labtrack.server.storage.store import ArtifactStorage, PendingWrite

WRITE_SIZE = 1024 * 1024


def check_declared_size(declared: int | None, max_bytes: int) -> None:
    """Refuse an upload whose declared length is past `max_bytes` (TooLarge), before reading it."""
    if declared is not None and declared > max_bytes:
        raise TooLarge(
            f"The upload ({declared} bytes) is larger than the server's limit of {max_bytes} bytes "
            "(--max-artifact-bytes); register it by URI instead.",
            {"max_bytes": max_bytes},
        )


async def receive(storage: ArtifactStorage, parent: list[str], max_bytes: int,
                  chunks: AsyncIterator[bytes]) -> PendingWrite:
    """Stream `chunks` into a new pending write under `parent`, for the caller to commit or abort.

    Raises TooLarge past `max_bytes`, or whatever the stream raised; the pending write is aborted
    either way.
    """
    pending = await to_thread.run_sync(storage.begin_write, parent, max_bytes)
    buffer = bytearray()
    try:
        async for chunk in chunks:
            buffer += chunk
            if len(buffer) >= WRITE_SIZE:
                await to_thread.run_sync(pending.write, bytes(buffer))
                buffer.clear()
        if buffer:
            await to_thread.run_sync(pending.write, bytes(buffer))
    except TooLarge:
        raise  # the pending write aborted itself when it went past the limit
    except BaseException:
        await to_thread.run_sync(pending.abort)
        raise
    return pending


__all__ = ["WRITE_SIZE", "check_declared_size", "receive"]
