"""Dataset versions: drafts that collect a manifest, final versions that never change, lineage.

The rules, in one place:
- A version is `draft` until `finalize`, then `final`; a final version's manifest and state
  never change again (every write checks the state inside its transaction, row-locked on
  PostgreSQL, serialized on SQLite).
- A draft starts with its parents' manifests (all final); later parents win on a shared path.
- File bytes are blobs named by their sha256, stored once however many versions name them; a
  draft can be finalized only when every hash its manifest names is stored, so no final version
  ever lacks bytes (an interrupted upload leaves a draft that a rerun completes).
"""

from __future__ import annotations

import re
from typing import IO, Any, AsyncIterator

from anyio import to_thread
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from labtrack.server.errors import Conflict, Invalid, NotEmpty, NotFound, TooLarge
from labtrack.server.services.paging import CursorKey, check_limit, decode_cursor, page_of
from labtrack.server.services.projects import ProjectService, normalize_name
from labtrack.server.storage.blobs import BlobStore, HashMismatch, check_sha256, drain, read_frames
from labtrack.server.store import datasets as store
from labtrack.server.store import projects as project_store
from labtrack.server.store import tasks as task_store
from labtrack.server.store.db import Database
from labtrack.server.util import dumps, loads, new_id, now

MAX_BATCH = 10_000  # manifest entries per request
MAX_PARENTS = 100
MAX_LINEAGE = 1000
SMALL_BLOB = 1024 * 1024  # batch frames up to this size are read whole and stored in one thread call
MAX_PATH_BYTES = 1024  # fits a PostgreSQL b-tree key even in 4-byte UTF-8
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
_ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
HYPERPARAM_SECTION = "Datasets"  # where a task's input datasets show on the task (`Datasets/<alias>`)


def _loc_error(loc: list[Any], message: str) -> Invalid:
    return Invalid(message, [{"loc": loc, "msg": message}])


def check_path(path: str, loc: list[Any]) -> str:
    """A manifest path: relative, '/'-separated, no empty, '.' or '..' parts, no control characters."""
    problem = None
    if not isinstance(path, str) or not path:
        problem = "must be a non-empty string"
    elif len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        problem = f"is longer than {MAX_PATH_BYTES} bytes"
    elif path.startswith("/") or "\\" in path:
        problem = "must be relative and use '/' as the separator"
    elif any(part in ("", ".", "..") for part in path.split("/")):
        problem = "must not contain empty, '.' or '..' parts"
    elif any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        problem = "must not contain control characters"
    if problem:
        raise _loc_error(loc, f"File path {str(path)[:200]!r} {problem} (e.g. 'images/cat.png').")
    return path


def next_version(existing: list[str]) -> str:
    """The version after the highest dotted-number one (1.0.0 → 1.0.1); '1.0.0' for the first."""
    numeric = []
    for text in existing:
        parts = text.split(".")
        if all(p.isdigit() for p in parts):
            numeric.append([int(p) for p in parts])
    if not numeric:
        return "1.0.0"
    highest = max(numeric)
    highest[-1] += 1
    candidate = ".".join(str(p) for p in highest)
    while candidate in existing:  # a padded twin ("1.0.01") could already hold the name
        highest[-1] += 1
        candidate = ".".join(str(p) for p in highest)
    return candidate


def _decode(row: dict[str, Any], parents: list[str]) -> dict[str, Any]:
    return {
        "id": row["id"], "project": row["project"], "project_id": row["project_id"], "name": row["name"],
        "version": row["version"], "state": row["state"], "description": row["description"], "user": row["user"],
        "file_count": int(row["file_count"]), "total_size": int(row["total_size"]), "created": row["created"],
        "finalized": row["finalized"], "parents": parents,
    }


class DatasetService:
    """Dataset versions, manifests, blobs and task inputs."""

    def __init__(self, db: Database, projects: ProjectService, blobs: BlobStore) -> None:
        self.db = db
        self.projects = projects
        self.blobs = blobs

    # -- versions ----------------------------------------------------------------------------

    def _row(self, conn: Connection, dataset_id: str, *, for_update: bool = False) -> dict[str, Any]:
        row = store.get(conn, dataset_id, for_update=for_update)
        if not row:
            raise NotFound(f"Dataset version {dataset_id} does not exist.", {"dataset_id": dataset_id})
        return row

    def _draft(self, conn: Connection, dataset_id: str) -> dict[str, Any]:
        row = self._row(conn, dataset_id, for_update=True)
        if row["state"] != "draft":
            raise Conflict(
                f"Dataset {row['project']}/{row['name']} version {row['version']} is final and can't change: "
                "create a new version with this one as its parent.",
                {"dataset_id": dataset_id, "state": row["state"]},
                code="dataset_final",
            )
        return row

    def create(self, *, user: str, project: str, name: str, version: str | None, description: str,
               parents: list[str]) -> dict[str, Any]:
        """Create a draft version (its parents' files already in its manifest)."""
        name = normalize_name(name)
        if version is not None and not _VERSION.match(version):
            raise _loc_error(["body", "version"], f"Version {version!r} is not valid: use up to 100 characters of "
                             "A-Z a-z 0-9 . _ + - starting with a letter or digit (e.g. 1.2.0).")
        if len(parents) > MAX_PARENTS or len(set(parents)) != len(parents):
            raise _loc_error(["body", "parents"], f"parents must be at most {MAX_PARENTS} distinct dataset ids.")
        dataset_id = new_id()
        try:
            with self.db.write() as conn:
                for parent_id in parents:
                    parent = self._row(conn, parent_id)
                    if parent["state"] != "final":
                        raise Conflict(f"Parent version {parent_id} is still a draft: finalize it before using it as "
                                       "a parent.", {"parent_id": parent_id}, code="parent_draft")
                project_id = self.projects.get_or_create_id(conn, project)
                taken = store.versions_of(conn, project_id, name)
                version = version or next_version(taken)
                if version in taken:
                    raise Conflict(f"Dataset {project}/{name} already has a version {version!r}: pick another "
                                   "version or leave it out to get the next one.", {"version": version})
                store.insert_version(conn, {
                    "id": dataset_id, "project_id": project_id, "name": name, "version": version, "state": "draft",
                    "description": description, "user": user, "file_count": 0, "total_size": 0, "created": now(),
                    "finalized": None,
                }, parents)
                for parent_id in parents:
                    store.copy_manifest(conn, parent_id, dataset_id)
                store.refresh_totals(conn, dataset_id)
        except IntegrityError:  # a concurrent create took the same version
            raise Conflict(f"Dataset {project}/{name} already has a version {version!r}.", {"version": version}) from None
        return self.get(dataset_id)

    def get(self, dataset_id: str) -> dict[str, Any]:
        """One version."""
        with self.db.read() as conn:
            row = self._row(conn, dataset_id)
            return _decode(row, store.parents_of(conn, [dataset_id])[dataset_id])

    def list_versions(self, *, project: str | None, name: str | None, version: str | None, state: str | None,
             search: str | None, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of versions, newest first."""
        check_limit(limit)
        after = decode_cursor(cursor, [CursorKey.NUMBER, CursorKey.ID])
        with self.db.read() as conn:
            project_id = None
            if project is not None:
                found = project_store.get_by_name(conn, normalize_name(project))
                if not found:
                    return [], None
                project_id = found["id"]
            rows = store.list_versions(
                conn, project_id=project_id, name=name, version=version, state=state, search=search,
                after=(float(after[0]), after[1]) if after else None, limit=limit + 1,
            )
            rows, next_cursor = page_of(rows, limit, lambda last: [last["created"], last["id"]])
            parents = store.parents_of(conn, [r["id"] for r in rows])
        return [_decode(r, parents[r["id"]]) for r in rows], next_cursor

    def update(self, dataset_id: str, description: str | None) -> dict[str, Any]:
        """Change a version's description (allowed on final versions: it is not content)."""
        with self.db.write() as conn:
            self._row(conn, dataset_id, for_update=True)
            if description is not None:
                store.update_version(conn, dataset_id, {"description": description})
        return self.get(dataset_id)

    def delete(self, dataset_id: str) -> None:
        """Delete a version nothing descends from (its blobs stay: other versions may share them)."""
        with self.db.write() as conn:
            row = self._row(conn, dataset_id, for_update=True)
            children = store.children_of(conn, dataset_id)
            if children:
                raise NotEmpty(f"Dataset version {row['version']} is the parent of {len(children)} version(s): "
                               "delete those first.", {"children": children[:100]})
            store.delete_version(conn, dataset_id)

    def finalize(self, dataset_id: str) -> dict[str, Any]:
        """Make a draft final; Conflict while any of its files' bytes are not uploaded."""
        with self.db.write() as conn:
            self._draft(conn, dataset_id)
            missing = store.count_missing(conn, dataset_id)
            if missing:
                raise Conflict(f"{missing} file content(s) of this draft are not uploaded yet: upload them, then "
                               "finalize (the draft is unchanged).", {"missing": missing}, code="upload_incomplete")
            store.refresh_totals(conn, dataset_id)
            store.finalize(conn, dataset_id, now())
        return self.get(dataset_id)

    def lineage(self, dataset_id: str) -> list[dict[str, Any]]:
        """This version and its ancestors, nearest first (breadth-first, each once)."""
        with self.db.read() as conn:
            self._row(conn, dataset_id)
            order: list[str] = []
            seen = {dataset_id}
            frontier = [dataset_id]
            while frontier and len(order) < MAX_LINEAGE:
                order.extend(frontier)
                parents = store.parents_of(conn, frontier)
                frontier = []
                for parent_ids in parents.values():
                    for parent_id in parent_ids:
                        if parent_id not in seen:
                            seen.add(parent_id)
                            frontier.append(parent_id)
            order = order[:MAX_LINEAGE]
            parents = store.parents_of(conn, order)
            return [_decode(self._row(conn, d), parents[d]) for d in order]

    # -- manifests ---------------------------------------------------------------------------

    def change_files(self, dataset_id: str, add: list[dict[str, Any]], remove: list[str]) -> dict[str, Any]:
        """Add/replace and remove manifest entries of a draft; returns the hashes it still lacks."""
        if len(add) > MAX_BATCH or len(remove) > MAX_BATCH:
            raise _loc_error(["body"], f"Send at most {MAX_BATCH} entries to add and {MAX_BATCH} to remove per request.")
        seen: set[str] = set()
        for i, entry in enumerate(add):
            check_path(entry["path"], ["body", "add", i, "path"])
            check_sha256(entry["sha256"], "sha256")
            if entry["path"] in seen:
                raise _loc_error(["body", "add", i, "path"], f"Path {entry['path']!r} appears twice in one request.")
            seen.add(entry["path"])
        for i, path in enumerate(remove):
            check_path(path, ["body", "remove", i])
        with self.db.write() as conn:
            self._draft(conn, dataset_id)
            removed = store.remove_files(conn, dataset_id, remove)
            store.upsert_files(conn, dataset_id, add)
            count, size = store.refresh_totals(conn, dataset_id)
            stored = store.stored_among(conn, (e["sha256"] for e in add))
        missing = sorted({e["sha256"] for e in add} - stored)
        return {"missing": missing, "removed": removed, "file_count": count, "total_size": size}

    def files(self, dataset_id: str, limit: int, cursor: str | None, prefix: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of a version's manifest by path."""
        check_limit(limit, MAX_BATCH)
        after = decode_cursor(cursor, [CursorKey.TEXT])
        with self.db.read() as conn:
            self._row(conn, dataset_id)
            rows = store.list_files(conn, dataset_id, after[0] if after else None, prefix, limit + 1)
        return page_of(rows, limit, lambda last: [last["path"]])

    def missing(self, dataset_id: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the hashes a version names whose bytes are not stored yet."""
        check_limit(limit, MAX_BATCH)
        after = decode_cursor(cursor, [CursorKey.TEXT])
        with self.db.read() as conn:
            self._row(conn, dataset_id)
            rows = store.missing_blobs(conn, dataset_id, after[0] if after else None, limit + 1)
        return page_of(rows, limit, lambda last: [last["sha256"]])

    # -- blobs -------------------------------------------------------------------------------

    def _blob_expectation(self, sha256: str) -> tuple[bool, int]:
        check_sha256(sha256)
        with self.db.read() as conn:
            if store.blob_size(conn, sha256) is not None:
                return True, 0
            size = store.expected_size(conn, sha256)
        if size is None:
            raise NotFound(f"No dataset file has content {sha256}: add the file to a draft version first, then "
                           "upload its bytes.", {"sha256": sha256})
        return False, size

    async def put_blob(self, sha256: str, chunks: AsyncIterator[bytes]) -> dict[str, Any]:
        """Store bytes as blob `sha256` after checking their hash; a stored blob is left as it is."""
        stored, size = await to_thread.run_sync(self._blob_expectation, sha256)
        if stored:
            async for _chunk in chunks:  # read the body so the connection stays usable
                pass
            return {"sha256": sha256, "size": await to_thread.run_sync(self._stored_size, sha256), "created": False}
        size = await self.blobs.put(sha256, chunks, expected_size=size)
        await to_thread.run_sync(self._record_blob, sha256, size)
        return {"sha256": sha256, "size": size, "created": True}

    async def put_blobs(self, chunks: AsyncIterator[bytes]) -> dict[str, list[str]]:
        """Store a batch of blobs (frames of `<sha256> <size>\\n` + bytes), each verified on its own.

        Returns the hashes by outcome: `stored`, `had` (already stored), `mismatched` (the bytes
        hashed to something else: not stored), `unknown` (no manifest names the hash), `too_large`.
        """
        recorded: list[tuple[str, int]] = []

        async def one(sha256: str, size: int, body: AsyncIterator[bytes]) -> str:
            if size <= SMALL_BLOB:  # read it whole (bounded) and check and store it in one thread call
                data = b"".join([chunk async for chunk in body])
                outcome, stored_size = await to_thread.run_sync(self._put_small, sha256, data)
                if outcome == "stored":
                    recorded.append((sha256, stored_size))
                return outcome
            try:
                stored, expected = await to_thread.run_sync(self._blob_expectation, sha256)
            except NotFound:
                return "unknown"
            if stored:
                return "had"
            if size != expected:
                await drain(body)
                return "mismatched"
            try:
                recorded.append((sha256, await self.blobs.put(sha256, body, expected_size=expected)))
            except HashMismatch:
                return "mismatched"
            except TooLarge:
                return "too_large"
            return "stored"

        try:
            outcomes = await read_frames(chunks, one)
        finally:  # what was committed to storage is recorded even if the batch breaks off
            if recorded:
                await to_thread.run_sync(self._record_blobs, recorded)
        return {name: outcomes.get(name, []) for name in ("stored", "had", "mismatched", "unknown", "too_large")}

    def _put_small(self, sha256: str, data: bytes) -> tuple[str, int]:
        try:
            stored, expected = self._blob_expectation(sha256)
        except NotFound:
            return "unknown", 0
        if stored:
            return "had", 0
        if len(data) != expected:
            return "mismatched", 0
        try:
            self.blobs.put_bytes(sha256, data)
        except HashMismatch:
            return "mismatched", 0
        except TooLarge:
            return "too_large", 0
        return "stored", len(data)

    def _record_blobs(self, blobs: list[tuple[str, int]]) -> None:
        for start in range(0, len(blobs), 500):
            try:
                with self.db.write() as conn:
                    for sha256, size in blobs[start:start + 500]:
                        store.record_blob(conn, sha256, size, now())
            except IntegrityError:  # a concurrent upload of the same bytes: record them one by one
                for sha256, size in blobs[start:start + 500]:
                    self._record_blob(sha256, size)

    def _stored_size(self, sha256: str) -> int:
        with self.db.read() as conn:
            return int(store.blob_size(conn, sha256) or 0)

    def _record_blob(self, sha256: str, size: int) -> None:
        try:
            with self.db.write() as conn:
                store.record_blob(conn, sha256, size, now())
        except IntegrityError:  # the same bytes arrived twice at once: either row will do
            pass

    def stored_sizes(self, hashes: list[str]) -> list[tuple[str, int]]:
        """(sha256, size) of each stored blob asked for, in order; NotFound naming any that is not stored."""
        if len(hashes) > MAX_BATCH:
            raise _loc_error(["body", "hashes"], f"Ask for at most {MAX_BATCH} blobs per request.")
        for h in hashes:
            check_sha256(h, "hashes")
        with self.db.read() as conn:
            sizes = {h: store.blob_size(conn, h) for h in set(hashes)}
        absent = sorted(h for h, size in sizes.items() if size is None)
        if absent:
            raise NotFound(f"{len(absent)} of the blobs asked for are not stored (e.g. {absent[0]}).", {"missing": absent[:100]})
        return [(h, int(sizes[h] or 0)) for h in hashes]

    def open_blob(self, sha256: str) -> tuple[int, IO[bytes]]:
        """A stored blob's size and an open stream of its bytes."""
        check_sha256(sha256)
        with self.db.read() as conn:
            size = store.blob_size(conn, sha256)
        if size is None:
            raise NotFound(f"No stored blob {sha256}.", {"sha256": sha256})
        try:
            return int(size), self.blobs.open(sha256)
        except FileNotFoundError:
            raise NotFound(f"The bytes of blob {sha256} are missing from the artifact store.", {"sha256": sha256}) from None

    # -- task inputs -------------------------------------------------------------------------

    def record_input(self, task_id: str, alias: str, dataset_id: str) -> dict[str, Any]:
        """Record a version as a task's input under `alias`, also shown as hyperparameter Datasets/<alias>."""
        if not _ALIAS.match(alias or ""):
            raise _loc_error(["body", "alias"], f"Alias {alias!r} is not valid: use up to 200 characters of A-Z a-z 0-9 "
                             ". _ - starting with a letter or digit (e.g. 'train').")
        with self.db.write() as conn:
            task = task_store.get_row(conn, task_id, for_update=True)
            if not task:
                raise NotFound(f"Task {task_id} does not exist.", {"task_id": task_id})
            row = self._row(conn, dataset_id)
            store.set_task_input(conn, task_id, alias, dataset_id, now())
            hyperparams = loads(task["hyperparams"], {})
            section = dict(hyperparams.get(HYPERPARAM_SECTION) or {})
            section[alias] = {"value": dataset_id, "type": "dataset",
                              "description": f"{row['project']}/{row['name']} version {row['version']}"}
            hyperparams[HYPERPARAM_SECTION] = section
            task_store.update_task(conn, task_id, {"hyperparams": dumps(hyperparams), "last_update": now()})
        return {"alias": alias, **self.get(dataset_id)}

    def task_inputs(self, task_id: str) -> list[dict[str, Any]]:
        """A task's input datasets by alias."""
        with self.db.read() as conn:
            if task_store.status_of(conn, task_id) is None:
                raise NotFound(f"Task {task_id} does not exist.", {"task_id": task_id})
            rows = store.task_inputs(conn, task_id)
            parents = store.parents_of(conn, [r["id"] for r in rows])
        return [{"alias": r["alias"], **_decode(r, parents[r["id"]])} for r in rows]

    def users(self, dataset_id: str, limit: int) -> list[dict[str, Any]]:
        """Tasks that used this version as an input."""
        check_limit(limit)
        with self.db.read() as conn:
            self._row(conn, dataset_id)
            return store.users_of(conn, dataset_id, limit)
