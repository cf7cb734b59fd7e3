"""Moving bytes between this machine and the server: what dataset and model transfers share.

Files are read and hashed in 1 MiB chunks, never whole. A download lands in a temporary file
beside its target and takes the target's name only after its sha256 matched; the invariant is
that a local cache never holds unverified bytes under a verified name. Retries wait what the
server asked (`Retry-After`) or back off exponentially, bounded.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import uuid
from pathlib import Path
from typing import Callable, Iterable

from labtrack import paths

CHUNK = 1024 * 1024
RETRIES = 3  # tries for transport problems and server hiccups (5xx, 429); a refusal is not retried


def cache_root(kind: str, env_var: str) -> Path:
    """Where local copies of `kind` live: `$env_var`, else `<labtrack home or user cache>/<kind>`."""
    explicit = os.environ.get(env_var)
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("LABTRACK_HOME")
    if home:
        return Path(home).expanduser() / "cache" / kind
    import platformdirs

    return Path(platformdirs.user_cache_dir(paths.APP_NAME)) / kind


def sha256_file(path: Path, on_bytes: Callable[[int], None] | None = None) -> tuple[str, int]:
    """The sha256 and size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    return digest.hexdigest(), size


def retry_wait(attempt: int, exc: Exception) -> float:
    """Seconds before try `attempt + 1`: the server's `Retry-After` if it sent one, else backoff (≤ 8 s)."""
    return getattr(exc, "retry_after", None) or min(0.5 * 2.0**attempt, 8.0)


def discard(path: Path) -> None:
    """Remove a file, read-only or missing alike."""
    with contextlib.suppress(OSError):
        os.chmod(path, 0o644)
    with contextlib.suppress(OSError):
        path.unlink()


def note(message: str) -> None:
    """A line for the person running this (stderr: stdout may be a pipe of data, and a notebook shows it)."""
    print(f"labtrack: {message}", file=sys.stderr, flush=True)


def write_verified(target: Path, chunks: Iterable[bytes], sha256: str, *, size: int | None = None,
                   on_bytes: Callable[[int], None] | None = None,
                   mismatch: Callable[[str, int], Exception]) -> Path:
    """Write downloaded bytes to `target` (read-only), which they reach only once they hash to `sha256`.

    Args:
        size: when given, the byte count must match too.
        on_bytes: told of each chunk written, and of minus all of them when the download fails.
        mismatch: builds the error for bytes that hash to something else (their sha256, their size).

    Raises:
        The `mismatch` error, or whatever reading `chunks` raised; nothing is left behind either way.
    """
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    digest = hashlib.sha256()
    got = 0
    try:
        with open(tmp, "wb") as fh:
            for chunk in chunks:
                digest.update(chunk)
                fh.write(chunk)
                got += len(chunk)
                if on_bytes:
                    on_bytes(len(chunk))
        if digest.hexdigest() != sha256 or (size is not None and got != size):
            raise mismatch(digest.hexdigest(), got)
        os.chmod(tmp, 0o444)
        os.replace(tmp, target)
        return target
    except BaseException:
        if on_bytes:
            on_bytes(-got)
        raise
    finally:
        discard(tmp)


__all__ = ["CHUNK", "RETRIES", "cache_root", "discard", "note", "retry_wait", "sha256_file", "write_verified"]
