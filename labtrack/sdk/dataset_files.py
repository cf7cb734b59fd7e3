"""Local files for datasets: finding them, hashing them in parallel (streamed), and the progress bar.

Hashing reads each file in 1 MiB chunks (never a whole file in memory) on a thread pool:
hashlib releases the GIL while it digests, so threads use every core for big files and overlap
disk waits for small ones.
"""

from __future__ import annotations

import fnmatch
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

from labtrack.sdk.errors import LabtrackError
from labtrack.sdk.transfer import sha256_file

T = TypeVar("T")
R = TypeVar("R")


class DatasetError(LabtrackError):
    """A dataset operation that can't go on: the message says what to do."""


class FileChangedError(DatasetError):
    """Files changed between being added and being uploaded (their bytes no longer match the manifest)."""

    def __init__(self, message: str, paths: list[str]) -> None:
        super().__init__(message)
        self.paths = paths


class CorruptedCopyError(DatasetError):
    """Downloaded or cached bytes do not hash to what the manifest says, even after a fresh download."""


@dataclass(frozen=True)
class LocalFile:
    """A file on disk and the manifest path it goes under."""

    source: Path
    path: str  # '/'-separated, relative: the path inside the dataset


@dataclass(frozen=True)
class HashedFile:
    source: Path
    path: str
    size: int
    sha256: str


def default_workers() -> int:
    """Threads for hashing and transfers: enough to overlap I/O, bounded so a laptop stays usable."""
    return int(os.environ.get("LABTRACK_DATASET_WORKERS") or min(16, (os.cpu_count() or 2) * 2))


def dataset_path(*parts: str) -> str:
    """Join parts into a manifest path ('/'-separated, no empty, '.' or '..' parts)."""
    pieces: list[str] = []
    for part in parts:
        for piece in str(part).replace("\\", "/").split("/"):
            if piece in ("", "."):
                continue
            if piece == "..":
                raise DatasetError(f"Dataset paths can't go up a folder ('..'): {'/'.join(parts)!r}")
            pieces.append(piece)
    return "/".join(pieces)


def _matches(name: str, relative: str, patterns: Sequence[str] | None) -> bool:
    if not patterns:
        return True
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(relative, p) for p in patterns)


def collect_files(path: str | os.PathLike[str], wildcard: str | Sequence[str] | None = None, recursive: bool = True,
                  dataset_folder: str = "") -> list[LocalFile]:
    """The files under `path` (a file or a folder) matching `wildcard`, with their manifest paths.

    A folder's files keep their paths relative to it; a single file goes in under its name. Raises
    DatasetError for a path that does not exist.
    """
    root = Path(path).expanduser()
    patterns = [wildcard] if isinstance(wildcard, str) else list(wildcard) if wildcard else None
    if not root.exists():
        raise DatasetError(f"Can't add {str(path)!r}: no such file or folder (relative paths start at {os.getcwd()}).")
    if root.is_file():
        return [LocalFile(root.resolve(), dataset_path(dataset_folder, root.name))] if _matches(root.name, root.name, patterns) else []
    found: list[LocalFile] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        if not recursive:
            dirs[:] = []
        relative_folder = os.path.relpath(folder, root)
        for name in sorted(files):
            source = Path(folder) / name
            relative = name if relative_folder == "." else f"{relative_folder}/{name}"
            relative = relative.replace(os.sep, "/")
            if source.is_file() and _matches(name, relative, patterns):
                found.append(LocalFile(source.resolve(), dataset_path(dataset_folder, relative)))
    return found


def parallel_map(func: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """Apply `func` on a thread pool, yielding results in input order; the first error stops it."""
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="labtrack-dataset") as pool:
        yield from pool.map(func, items)


class Progress:
    """A tqdm bar in bytes (thread-safe updates), or nothing when switched off or tqdm is absent."""

    def __init__(self, desc: str, total: int, enabled: bool) -> None:
        self._bar: Any = None
        if enabled and total:
            try:
                from tqdm.auto import tqdm
            except ImportError:  # pragma: no cover - tqdm is a dependency
                return
            self._bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False)

    def update(self, nbytes: int) -> None:
        if self._bar is not None:
            self._bar.update(nbytes)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def hash_files(files: list[LocalFile], *, show_progress: bool, workers: int | None = None) -> list[HashedFile]:
    """Hash files in parallel (streamed), with a progress bar over their total size."""
    total = 0
    for f in files:
        try:
            total += f.source.stat().st_size
        except OSError as exc:
            raise DatasetError(f"Can't read {f.source}: {exc.strerror or exc}") from None
    with Progress("hashing", total, show_progress) as bar:

        def one(item: LocalFile) -> HashedFile:
            try:
                sha, size = sha256_file(item.source, bar.update)
            except OSError as exc:
                raise DatasetError(f"Can't read {item.source}: {exc.strerror or exc}") from None
            return HashedFile(item.source, item.path, size, sha)

        return list(parallel_map(one, files, workers or default_workers()))
