"""A session folder on disk: the ordered operations of one task that are not (yet) on the server.

Both offline sessions and the online sender's overflow/outage spool use this format, so
`labtrack sync FOLDER` uploads either:

    FOLDER/session.json      {"task_id": id | null, "create": POST /tasks body | null, "api_url", "offline",
                              "owner": {"pid", "started"}}
    FOLDER/ops/<seq>.json    one operation each, replayed in sequence order
    FOLDER/files/…           bytes referenced by artifact/image operations
    FOLDER/rejected/<seq>.json  operations the server refused with a 4xx, with its answer (for a
                              person; never replayed)
    FOLDER/synced.json       sync progress: the server task id and the last replayed sequence
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any, Iterator

from labtrack.sdk.encoding import dumps, dumps_for_a_person, loads

__all__ = ["SessionFolder", "dumps", "loads", "spool_root", "write_atomic"]


def spool_root() -> Path:
    """Where online tasks spool what they could not send."""
    from labtrack import paths

    return Path(os.environ.get("LABTRACK_SPOOL_DIR") or paths.data_dir() / "spool")


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so that a crash leaves either the old content or the new, never a torn file."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


class SessionFolder:
    """Read and write one session folder."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.ops_dir = self.root / "ops"
        self.files_dir = self.root / "files"
        self.rejected_dir = self.root / "rejected"

    def create(self, meta: dict[str, Any]) -> None:
        """Create the folder and write `session.json` (merged with an existing one)."""
        self.ops_dir.mkdir(parents=True, exist_ok=True)
        self.files_dir.mkdir(exist_ok=True)
        merged = {**self.meta(), **meta}
        write_atomic(self.root / "session.json", json.dumps(merged, indent=2).encode())

    def meta(self) -> dict[str, Any]:
        try:
            return json.loads((self.root / "session.json").read_text())
        except (OSError, ValueError):
            return {}

    def exists(self) -> bool:
        return (self.root / "session.json").is_file()

    def op_path(self, seq: int) -> Path:
        return self.ops_dir / f"{seq:012d}.json"

    def write_op(self, seq: int, op: dict[str, Any]) -> Path:
        if not self.ops_dir.is_dir():
            self.ops_dir.mkdir(parents=True, exist_ok=True)
        path = self.op_path(seq)
        write_atomic(path, dumps(op))
        return path

    def iter_ops(self) -> Iterator[tuple[int, Path]]:
        """Yield `(seq, path)` of every stored operation in sequence order."""
        if not self.ops_dir.is_dir():
            return
        for path in sorted(self.ops_dir.glob("*.json")):
            try:
                yield int(path.stem), path
            except ValueError:
                continue

    def read_op(self, path: Path) -> dict[str, Any]:
        return loads(path.read_bytes())

    def reject(self, seq: int, op: dict[str, Any], reason: str, answer: dict[str, Any] | None = None) -> Path:
        """Keep an operation the server refused, with the reason and the server's answer, out of
        the replay order. Always writes something a person can read, even for an operation JSON
        cannot hold."""
        self.rejected_dir.mkdir(parents=True, exist_ok=True)
        path = self.rejected_dir / f"{seq:012d}.json"
        record = {"reason": reason, "answer": answer, "op": op}
        try:
            data = dumps(record)
        except (TypeError, ValueError):
            data = dumps_for_a_person(record)
        write_atomic(path, data)
        return path

    def rejected_count(self) -> int:
        """How many operations were set aside in `rejected/`."""
        if not self.rejected_dir.is_dir():
            return 0
        return sum(1 for _ in self.rejected_dir.glob("*.json"))

    def sync_state(self) -> dict[str, Any]:
        try:
            return json.loads((self.root / "synced.json").read_text())
        except (OSError, ValueError):
            return {}

    def save_sync_state(self, state: dict[str, Any]) -> None:
        write_atomic(self.root / "synced.json", json.dumps(state, indent=2).encode())

    def pending_count(self) -> int:
        return sum(1 for _ in self.iter_ops())
