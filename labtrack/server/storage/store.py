"""The artifact byte store: streaming writes with sha256/size, reads, deletes; paths can't escape."""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import re
import threading
import uuid
from dataclasses import dataclass
from typing import IO, Protocol

import fsspec
from fsspec.implementations.local import LocalFileSystem
from fsspec.spec import AbstractBufferedFile

from labtrack.server.errors import Invalid, TooLarge

_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# Part size of uploads to object storage (S3 takes parts of 5 MiB to 5 GiB, at most 10,000 of
# them: 8 MiB parts reach 78 GiB, past the default artifact limit of 5 GiB).
UPLOAD_PART_BYTES = 8 * 1024**2
# Parts being sent to object storage at once, server-wide. A part in flight costs about two more
# copies of it (fsspec's read of its buffer, the HTTP client's); with this bound, memory is about
# one part per concurrent upload plus a fixed amount, however many uploads arrive together.
_PARTS_IN_FLIGHT = threading.BoundedSemaphore(4)


_M_MMAP_THRESHOLD = -3  # glibc mallopt() parameter


def _load_libc():  # type: ignore[no-untyped-def]
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:  # not glibc: its allocator has its own ways
        return None


_LIBC = _load_libc()


def _map_large_buffers() -> None:
    """Allocate buffers of 1 MiB and more with mmap, so freeing a part hands it back to the OS at
    once. glibc's default threshold grows to 32 MiB after the first large free, after which
    part buffers land in per-thread arenas and a burst of uploads leaves the server large."""
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, 1024 * 1024)


def _release_memory() -> None:
    """Return what an upload freed in glibc's arenas (the smaller pieces) to the OS."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def safe_component(name: str, what: str = "name") -> str:
    """One path component made only of safe characters; raises Invalid for anything else."""
    if not isinstance(name, str) or not _SAFE.match(name) or name.startswith("."):
        raise Invalid(
            f"{what} {name!r} is not allowed: use 1-128 characters of A-Z a-z 0-9 . _ - not starting with '.'.",
            [{"loc": ["path", what], "msg": "unsafe name"}],
        )
    return name


@dataclass
class StoredObject:
    """What a finished write produced."""

    uri: str
    size: int
    sha256: str


class PendingWrite(Protocol):
    """An upload in progress: write chunks, then commit it under its final name or abort it."""

    size: int

    def write(self, chunk: bytes) -> None: ...
    def sha256(self) -> str: ...
    def commit(self, parts: list[str]) -> StoredObject: ...
    def abort(self) -> None: ...


class ArtifactStorage(Protocol):
    """What the server needs from a byte store."""

    def begin_write(self, parent: list[str], max_bytes: int) -> PendingWrite: ...
    def open_read(self, parts: list[str]) -> IO[bytes]: ...
    def exists(self, parts: list[str]) -> bool: ...
    def delete(self, parts: list[str]) -> None: ...
    def delete_tree(self, parts: list[str]) -> None: ...


class _FsspecWrite:
    """Bytes go to a hidden temporary object beside the final one; readers never see half a file."""

    def __init__(self, storage: "FsspecStorage", parent: list[str], max_bytes: int) -> None:
        self.storage = storage
        self.max_bytes = max_bytes
        parent_path = storage.path(parent)
        storage.fs.makedirs(parent_path, exist_ok=True)
        self.tmp = f"{parent_path}/.upload-{uuid.uuid4().hex}"
        # Object stores buffer a whole block before sending it (s3fs: 50 MiB by default, so every
        # upload under that size sat in memory entire); parts of UPLOAD_PART_BYTES keep each
        # upload's memory small and fixed, whatever its size. Local files ignore it.
        self.file = storage.fs.open(self.tmp, "wb", block_size=storage.part_bytes)
        # Buffered (object store) files send a part from inside write() once a part has built up.
        self.buffered = isinstance(self.file, AbstractBufferedFile)
        self.size = 0
        self._digest = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            self.abort()
            raise TooLarge(
                f"The upload is larger than the server's limit of {self.max_bytes} bytes "
                "(--max-artifact-bytes); register it by URI instead.",
                {"max_bytes": self.max_bytes},
            )
        self._digest.update(chunk)
        if not self.buffered:
            self.file.write(chunk)
            return
        with _PARTS_IN_FLIGHT:
            self.file.write(chunk)

    def sha256(self) -> str:
        return self._digest.hexdigest()

    def commit(self, parts: list[str]) -> StoredObject:
        if self.buffered:
            with _PARTS_IN_FLIGHT:
                self.file.close()  # sends the last part and completes the upload
            _release_memory()
        else:
            self.file.close()
        final = self.storage.path(parts)
        self.storage.fs.mv(self.tmp, final)
        return StoredObject(uri=self.storage.uri(parts), size=self.size, sha256=self.sha256())

    def abort(self) -> None:
        try:
            if self.buffered and not self.file.closed:
                # close() would send the rest and complete a half upload; discard() drops it
                # (S3 aborts the multipart upload, so no parts are left behind to pay for).
                self.file.discard()
                self.file.closed = True
            else:
                self.file.close()
        finally:
            try:
                self.storage.fs.rm(self.tmp)
            except (FileNotFoundError, OSError):
                pass
            if self.buffered:
                _release_memory()


class FsspecStorage:
    """A byte store rooted at a local folder or any fsspec URL (s3://bucket/prefix, memory://…)."""

    def __init__(self, root_url: str, part_bytes: int = UPLOAD_PART_BYTES) -> None:
        self.root_url = root_url.rstrip("/")
        self.part_bytes = part_bytes
        self.fs, root = fsspec.core.url_to_fs(root_url)
        self.root = root.rstrip("/") or "/"
        if isinstance(self.fs, LocalFileSystem):
            self.fs.makedirs(self.root, exist_ok=True)
        else:
            _map_large_buffers()  # uploads are buffered in parts in this process

    def path(self, parts: list[str]) -> str:
        """The filesystem path of stored parts; every component is re-checked so none can escape."""
        for part in parts:
            safe_component(part)
        return "/".join([self.root.rstrip("/"), *parts])

    def uri(self, parts: list[str]) -> str:
        """A URI naming the stored bytes (file:///… for local folders)."""
        if isinstance(self.fs, LocalFileSystem):
            return "file://" + self.path(parts)
        return "/".join([self.root_url, *parts])

    def begin_write(self, parent: list[str], max_bytes: int) -> _FsspecWrite:
        """Start a streaming upload into the folder `parent`."""
        return _FsspecWrite(self, parent, max_bytes)

    def open_read(self, parts: list[str]) -> IO[bytes]:
        """Open stored bytes for streaming (object stores fetch a part at a time, not their
        default 50 MiB read-ahead per open file)."""
        return self.fs.open(self.path(parts), "rb", block_size=self.part_bytes)

    def exists(self, parts: list[str]) -> bool:
        """Whether an object is stored."""
        return bool(self.fs.exists(self.path(parts)))

    def delete(self, parts: list[str]) -> None:
        """Delete one object (missing is fine)."""
        try:
            self.fs.rm(self.path(parts))
        except (FileNotFoundError, OSError):
            pass

    def delete_tree(self, parts: list[str]) -> None:
        """Delete everything under a prefix (missing is fine)."""
        path = self.path(parts)
        try:
            if self.fs.exists(path):
                self.fs.rm(path, recursive=True)
        except (FileNotFoundError, OSError):
            pass
