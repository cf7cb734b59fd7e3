"""Helpers for dataset tests: files on disk, the server's stored blobs, a client for a server."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from labtrack.sdk.client import ApiClient


def client_for(server: Any) -> ApiClient:
    return ApiClient(server.url, server.api_key)


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    """Write `{relative path: bytes}` under root."""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under root as `{relative posix path: bytes}`."""
    found = {}
    for base, _dirs, files in os.walk(root):
        for name in files:
            full = Path(base) / name
            found[full.relative_to(root).as_posix()] = full.read_bytes()
    return found


def temporary_uploads(artifacts: Path) -> list[Path]:
    """Uploads in progress (or left behind) in the server's blob folder."""
    root = artifacts / "blobs"
    return [p for p in root.rglob(".*") if p.is_file()] if root.exists() else []


def stored_blobs(artifacts: Path, in_progress_ok: bool = False) -> dict[str, int]:
    """The server's stored blobs (sha256 → size), checking that each one's bytes hash to its name."""
    found: dict[str, int] = {}
    root = artifacts / "blobs"
    if not root.exists():
        return found
    for path in root.rglob("*"):
        if path.is_file():
            if in_progress_ok and path.name.startswith("."):
                continue
            assert not path.name.startswith("."), f"a temporary upload was left behind: {path}"
            data = path.read_bytes()
            assert hashlib.sha256(data).hexdigest() == path.name, f"blob {path.name} holds other bytes"
            found[path.name] = len(data)
    return found


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
