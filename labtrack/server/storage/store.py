"""The artifact byte store: streaming writes with sha256/size, reads, deletes; paths can't escape."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import IO, Protocol

import fsspec
from fsspec.implementations.local import LocalFileSystem

from labtrack.server.errors import Invalid, TooLarge

_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


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
        self.file = storage.fs.open(self.tmp, "wb")
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
        self.file.write(chunk)

    def sha256(self) -> str:
        return self._digest.hexdigest()

    def commit(self, parts: list[str]) -> StoredObject:
        self.file.close()
        final = self.storage.path(parts)
        self.storage.fs.mv(self.tmp, final)
        return StoredObject(uri=self.storage.uri(parts), size=self.size, sha256=self.sha256())

    def abort(self) -> None:
        try:
            self.file.close()
        finally:
            try:
                self.storage.fs.rm(self.tmp)
            except (FileNotFoundError, OSError):
                pass


class FsspecStorage:
    """A byte store rooted at a local folder or any fsspec URL (s3://bucket/prefix, memory://…)."""

    def __init__(self, root_url: str) -> None:
        self.root_url = root_url.rstrip("/")
        self.fs, root = fsspec.core.url_to_fs(root_url)
        self.root = root.rstrip("/") or "/"
        if isinstance(self.fs, LocalFileSystem):
            self.fs.makedirs(self.root, exist_ok=True)

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
        """Open stored bytes for streaming."""
        return self.fs.open(self.path(parts), "rb")

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
