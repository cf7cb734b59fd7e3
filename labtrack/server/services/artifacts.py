"""Artifacts and media: streamed uploads with sha256/size, external URIs, downloads, deletes."""

from __future__ import annotations

import re
from typing import IO, Any, AsyncIterator

from anyio import to_thread

from labtrack.server.errors import Conflict, Invalid, NotFound
from labtrack.server.services.paging import CursorKey, check_limit, decode_cursor, page_of
from labtrack.server.storage import ArtifactStorage, PendingWrite, safe_component, uploads
from labtrack.server.store import artifacts as artifact_store
from labtrack.server.store import tasks as task_store
from labtrack.server.store.db import Database
from labtrack.server.util import dumps, loads, now

_MEDIA_NAME = re.compile(r"^[0-9a-f]{64}(\.[a-z0-9]{1,10})?$")
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,10})$")


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    item = {k: row[k] for k in ("key", "type", "uri", "filename", "size", "sha256", "preview", "created")}
    item["metadata"] = loads(row["metadata"], {})
    item["external"] = bool(row["external"])
    return item


class ArtifactService:
    """A task's artifacts (rows in the store, bytes in the storage)."""

    def __init__(self, db: Database, storage: ArtifactStorage, max_bytes: int) -> None:
        self.db = db
        self.storage = storage
        self.max_bytes = max_bytes

    def _require_task(self, task_id: str) -> None:
        with self.db.read() as conn:
            if task_store.status_of(conn, task_id) is None:
                raise NotFound(f"Task {task_id} does not exist.")

    def check_declared_size(self, declared: int | None) -> None:
        """Refuse an upload declared past this store's limit (TooLarge) before reading it."""
        uploads.check_declared_size(declared, self.max_bytes)

    async def receive(self, parent: list[str], chunks: AsyncIterator[bytes]) -> PendingWrite:
        """Stream bytes into a pending write under `parent` within this store's limit (commit or abort it)."""
        return await uploads.receive(self.storage, parent, self.max_bytes, chunks)

    async def upload(
        self, task_id: str, key: str, chunks: AsyncIterator[bytes], *, type_: str, filename: str,
        declared_size: int | None,
    ) -> dict[str, Any]:
        """Stream bytes into the store under the key; re-uploading a key replaces it."""
        safe_component(key, "key")
        self.check_declared_size(declared_size)
        await to_thread.run_sync(self._require_task, task_id)
        pending = await self.receive([task_id, "artifacts"], chunks)
        stored = await to_thread.run_sync(pending.commit, [task_id, "artifacts", key])
        row = {
            "task_id": task_id, "key": key, "type": type_ or "", "uri": stored.uri, "filename": filename or key,
            "size": stored.size, "sha256": stored.sha256, "preview": "", "metadata": "{}", "created": now(),
            "external": False,
        }
        await to_thread.run_sync(self._save_row, row)
        return _decode(row)

    def _save_row(self, row: dict[str, Any]) -> None:
        with self.db.write() as conn:
            if task_store.status_of(conn, row["task_id"]) is None:
                raise NotFound(f"Task {row['task_id']} does not exist.")
            artifact_store.upsert(conn, row)
            task_store.touch(conn, row["task_id"], now())

    def register(self, task_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Record an artifact that lives elsewhere (nothing is uploaded)."""
        key = safe_component(body["key"], "key")
        row = {
            "task_id": task_id, "key": key, "type": body.get("type") or "", "uri": body["uri"],
            "filename": body.get("filename") or "", "size": body.get("size"), "sha256": body.get("sha256"),
            "preview": body.get("preview") or "", "metadata": dumps(body.get("metadata") or {}), "created": now(),
            "external": True,
        }
        self._save_row(row)
        self.storage.delete([task_id, "artifacts", key])
        return _decode(row)

    def patch(self, task_id: str, key: str, preview: str | None, metadata: dict[str, Any] | None) -> dict[str, Any]:
        """Change an artifact's preview or metadata."""
        safe_component(key, "key")
        values: dict[str, Any] = {}
        if preview is not None:
            values["preview"] = preview
        if metadata is not None:
            values["metadata"] = dumps(metadata)
        with self.db.write() as conn:
            if not artifact_store.get(conn, task_id, key):
                raise self._missing(conn, task_id, key)
            if values:
                artifact_store.update_row(conn, task_id, key, values)
        return self.get(task_id, key)

    @staticmethod
    def _missing(conn, task_id: str, key: str) -> NotFound:  # type: ignore[no-untyped-def]
        if task_store.status_of(conn, task_id) is None:
            return NotFound(f"Task {task_id} does not exist.")
        return NotFound(f"Task {task_id} has no artifact {key!r}.")

    def get(self, task_id: str, key: str) -> dict[str, Any]:
        """One artifact."""
        safe_component(key, "key")
        with self.db.read() as conn:
            row = artifact_store.get(conn, task_id, key)
            if not row:
                raise self._missing(conn, task_id, key)
        return _decode(row)

    def list(self, task_id: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of a task's artifacts by key."""
        check_limit(limit)
        after = decode_cursor(cursor, [CursorKey.TEXT])
        with self.db.read() as conn:
            if task_store.status_of(conn, task_id) is None:
                raise NotFound(f"Task {task_id} does not exist.")
            rows = artifact_store.list_for_task(conn, task_id, after[0] if after else None, limit + 1)
        rows, next_cursor = page_of(rows, limit, lambda last: [last["key"]])
        return [_decode(r) for r in rows], next_cursor

    def open_content(self, task_id: str, key: str) -> tuple[dict[str, Any], IO[bytes]]:
        """The artifact and an open stream of its bytes; Conflict for external URIs."""
        artifact = self.get(task_id, key)
        if artifact["external"]:
            raise Conflict(
                f"Artifact {key!r} is an external URI ({artifact['uri']}); fetch it from there.",
                {"uri": artifact["uri"]},
            )
        try:
            return artifact, self.storage.open_read([task_id, "artifacts", key])
        except FileNotFoundError:
            raise NotFound(f"The bytes of artifact {key!r} are missing from the artifact store.") from None

    def delete(self, task_id: str, key: str) -> None:
        """Delete an artifact row and its bytes."""
        safe_component(key, "key")
        with self.db.write() as conn:
            if not artifact_store.delete_row(conn, task_id, key):
                raise self._missing(conn, task_id, key)
        self.storage.delete([task_id, "artifacts", key])

    def delete_task_files(self, task_id: str) -> None:
        """Remove every stored byte of a task (after its rows are gone)."""
        self.storage.delete_tree([task_id])

    async def upload_media(self, task_id: str, filename: str, chunks: AsyncIterator[bytes], declared_size: int | None) -> dict[str, Any]:
        """Store an image (or other media) content-addressed; returns the uri for an image event."""
        self.check_declared_size(declared_size)
        match = _EXTENSION.search(filename or "")
        suffix = "." + match.group(1).lower() if match else ""
        await to_thread.run_sync(self._require_task, task_id)
        pending = await self.receive([task_id, "media"], chunks)
        name = pending.sha256() + suffix
        stored = await to_thread.run_sync(pending.commit, [task_id, "media", name])
        return {"uri": f"media/{name}", "size": stored.size, "sha256": stored.sha256}

    def open_media(self, task_id: str, name: str) -> IO[bytes]:
        """An open stream of a media file."""
        if not _MEDIA_NAME.match(name):
            raise Invalid(
                f"Media name {name!r} is not valid: use the name from the uri returned by the media upload.",
                [{"loc": ["path", "name"], "msg": "bad media name"}],
            )
        self._require_task(task_id)
        try:
            return self.storage.open_read([task_id, "media", name])
        except FileNotFoundError:
            raise NotFound(f"Task {task_id} has no media {name!r}.") from None
