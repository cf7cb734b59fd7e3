"""Bodies that stream, shared by every router that takes or sends raw bytes.

Uploads are read as they arrive (`request.stream()`), never buffered whole; a download is a
generator over an open stored object, read 1 MiB at a time and closed when the response ends,
whether the client read it all or went away.
"""

from __future__ import annotations

from typing import IO, Iterator

from fastapi import Request

from labtrack.server.errors import BadRequest

READ_SIZE = 1024 * 1024


def require_body(request: Request) -> None:
    """Refuse an upload that sent no body at all: no bytes and no Content-Type.

    A 0-byte file sent as application/octet-stream is a real (empty) upload; a request with
    neither is a client that forgot the body, and storing a 0-byte file for it would hide that.
    """
    if request.headers.get("content-type") is None and request.headers.get("content-length") in (None, "0") \
            and "transfer-encoding" not in request.headers:
        raise BadRequest("The request has no body: send the bytes as application/octet-stream.")


def declared_size(request: Request) -> int | None:
    """The upload's Content-Length, or None when it sent none (or not a number)."""
    value = request.headers.get("content-length")
    return int(value) if value and value.isdigit() else None


def iter_file(handle: IO[bytes]) -> Iterator[bytes]:
    """A stored object's bytes for a StreamingResponse; the handle is closed however the response ends."""
    try:
        while chunk := handle.read(READ_SIZE):
            yield chunk
    finally:
        handle.close()


__all__ = ["declared_size", "iter_file", "require_body"]
