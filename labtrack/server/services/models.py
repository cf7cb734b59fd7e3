"""The model registry: models, their weights, publishing, and which tasks made and used them.

The rules, in one place:
- A model belongs to a project and, when a task made it, to that task (its `output`); tasks that
  load it record it as their `input`. Links survive as long as both ends do; a model whose task
  is deleted keeps its row with no task.
- Weights are stored under `models/<id>/<sha256>`: bytes stream in, are checked against the hash
  the client sent (when it sent one) before they are committed, and only then does the model's
  row point at them, so a reader never sees a uri whose bytes are half-written or another's.
- A published model is immutable: its weights, name, framework, labels and metadata never change
  again and it can't be deleted (409 `model_published`); tags and the comment stay editable
  (registry bookkeeping, not content). Every such check runs inside the write transaction that
  would make the change, row-locked on PostgreSQL and serialized on SQLite.
"""

from __future__ import annotations

from typing import IO, Any, AsyncIterator, Literal

from anyio import to_thread
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from labtrack.server.errors import Conflict, Invalid, LabtrackError, NotFound
from labtrack.server.services.artifacts import ArtifactService
from labtrack.server.services.paging import CursorKey, check_limit, decode_cursor, page_of
from labtrack.server.services.projects import ProjectService, normalize_name
from labtrack.server.store import models as store
from labtrack.server.store import projects as project_store
from labtrack.server.store import tasks as task_store
from labtrack.server.store.db import Database
from labtrack.server.util import dumps, loads, new_id, now

Role = Literal["input", "output"]
USED_BY_SHOWN = 100  # tasks listed inside GET /models/{id}; `used_by_count` says how many in all
# Fields that are content: a published model refuses changes to them.
_CONTENT_FIELDS = ("name", "framework", "labels", "metadata")


class WeightsMismatch(LabtrackError):
    """Uploaded weights do not hash to what the client said it sent (nothing was stored)."""

    status = 422
    code = "hash_mismatch"


def _published(row: dict[str, Any], action: str) -> Conflict:
    return Conflict(
        f"Model {row['name']!r} ({row['id']}) is published and immutable, so its {action} can't change: "
        "create a new model (e.g. OutputModel(...) in a new task) instead.",
        {"model_id": row["id"], "published": True},
        code="model_published",
    )


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    task = {"id": row["task_id"], "name": row["task_name"]} if row["task_id"] else None
    return {
        "id": row["id"], "name": row["name"], "project": row["project"], "project_id": row["project_id"],
        "framework": row["framework"], "comment": row["comment"], "task": task, "user": row["user"],
        "tags": loads(row["tags"], []), "labels": loads(row["labels"], {}), "metadata": loads(row["metadata"], {}),
        "uri": row["uri"], "filename": row["filename"], "size": row["size"], "sha256": row["sha256"],
        "published": bool(row["published"]), "created": row["created"], "last_update": row["last_update"],
        "published_at": row["published_at"],
    }


def _weights_parts(model_id: str, sha256: str) -> list[str]:
    return ["models", model_id, sha256]


def parse_sort(sort: str | None) -> tuple[str, bool]:
    """`-created` → ("created", descending); Invalid for keys the registry can't sort by."""
    text = (sort or "-created").strip()
    key = text.lstrip("-")
    if key not in store.SORT_KEYS:
        raise Invalid(f"sort={sort!r} is not supported: use one of {', '.join(store.SORT_KEYS)}, with '-' for "
                      "descending (e.g. -created).", [{"loc": ["query", "sort"], "msg": "unknown sort key"}])
    return key, text.startswith("-")


class ModelService:
    """The model registry over the database and the artifact byte store."""

    def __init__(self, db: Database, projects: ProjectService, artifacts: ArtifactService) -> None:
        self.db = db
        self.projects = projects
        self.artifacts = artifacts  # its storage and upload limit; weights stream in the way artifacts do

    # -- reading ---------------------------------------------------------------------------------

    def _row(self, conn: Connection, model_id: str, *, for_update: bool = False) -> dict[str, Any]:
        row = store.get(conn, model_id, for_update=for_update)
        if not row:
            raise NotFound(f"Model {model_id} does not exist.", {"model_id": model_id})
        return row

    def get(self, model_id: str) -> dict[str, Any]:
        """One model, with the task that made it and the tasks that used it."""
        with self.db.read() as conn:
            model = _decode(self._row(conn, model_id))
            model["used_by"] = store.users_of(conn, model_id, USED_BY_SHOWN)
            model["used_by_count"] = store.count_users(conn, model_id)
        return model

    def query(self, flt: store.ModelFilter, project: str | None, sort: str | None, limit: int,
             cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of models matching the filter, sorted (ties broken by id)."""
        check_limit(limit)
        key, descending = parse_sort(sort)
        after = decode_cursor(cursor, [CursorKey.TEXT if key == "name" else CursorKey.NUMBER, CursorKey.ID])
        with self.db.read() as conn:
            if project is not None:
                found = project_store.get_by_name(conn, project)
                if not found:
                    return [], None
                flt.project_id = found["id"]
            rows = store.list_models(conn, flt, key, descending, (after[0], after[1]) if after else None,
                                     limit + 1)
        rows, next_cursor = page_of(rows, limit, lambda last: [last[key], last["id"]])
        return [_decode(r) for r in rows], next_cursor

    # -- writing ---------------------------------------------------------------------------------

    def create(self, user: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a model in a project (default: its task's); a task that made it gets it as output."""
        for attempt in range(3):
            try:
                return self.get(self._create(user, body))
            except IntegrityError:
                # Another request created the same new project at the same moment: look again.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _create(self, user: str, body: dict[str, Any]) -> str:
        task_id, project = body.get("task_id"), body.get("project")
        if not task_id and not project:
            raise Invalid("A model needs a project: send project (a name) or task_id (the model then goes in "
                          "the task's project).", [{"loc": ["body", "project"], "msg": "project or task_id is required"}])
        model_id, stamp = new_id(), now()
        tags = list(dict.fromkeys(body.get("tags") or []))
        with self.db.write() as conn:
            task = None
            if task_id:
                task = task_store.get_row(conn, task_id)
                if not task:
                    raise NotFound(f"Task {task_id} does not exist: create the model from a task that does, or "
                                   "leave task_id out.", {"task_id": task_id})
            project_id = self.projects.get_or_create_id(conn, project) if project else task["project_id"]  # type: ignore[index]
            row = {
                "id": model_id, "project_id": project_id, "name": body["name"], "framework": body.get("framework") or "",
                "comment": body.get("comment") or "", "task_id": task_id, "user": user, "tags": dumps(tags, "tags"),
                "labels": dumps(body.get("labels") or {}, "labels"),
                "metadata": dumps(body.get("metadata") or {}, "metadata"), "uri": "", "filename": "", "size": None,
                "sha256": None, "published": False, "created": stamp, "last_update": stamp, "published_at": None,
            }
            store.insert_model(conn, row, tags)
            if task_id:
                store.set_link(conn, task_id, "output", model_id, body["name"][:200], stamp)
        return model_id

    def update(self, model_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change a model's fields; `metadata` merges by key (a null value removes the key).

        Raises Conflict `model_published` for content changes of a published model.
        """
        with self.db.write() as conn:
            row = self._row(conn, model_id, for_update=True)
            if row["published"]:
                content = [f for f in _CONTENT_FIELDS if changes.get(f) is not None]
                if content:
                    raise _published(row, " and ".join(content))
            values: dict[str, Any] = {}
            for name in ("name", "framework", "comment"):
                if changes.get(name) is not None:
                    values[name] = changes[name]
            if changes.get("labels") is not None:
                values["labels"] = dumps(changes["labels"], "labels")
            if changes.get("metadata") is not None:
                merged = dict(loads(row["metadata"], {}))
                for key, item in changes["metadata"].items():
                    if item is None:
                        merged.pop(key, None)
                    else:
                        merged[key] = item
                values["metadata"] = dumps(merged, "metadata")
            if changes.get("tags") is not None:
                tags = list(dict.fromkeys(changes["tags"]))
                values["tags"] = dumps(tags, "tags")
                store.set_tags(conn, model_id, tags)
            if values:
                values["last_update"] = now()
                store.update_model(conn, model_id, values)
        return self.get(model_id)

    def publish(self, model_id: str) -> dict[str, Any]:
        """Make a model immutable (again is fine); Conflict `no_weights` while it has none."""
        with self.db.write() as conn:
            row = self._row(conn, model_id, for_update=True)
            if not row["published"]:
                if not row["sha256"]:
                    raise Conflict(f"Model {row['name']!r} has no weights yet: upload them (update_weights), then "
                                   "publish.", {"model_id": model_id}, code="no_weights")
                stamp = now()
                store.update_model(conn, model_id, {"published": True, "published_at": stamp, "last_update": stamp})
        return self.get(model_id)

    def delete(self, model_id: str) -> None:
        """Delete an unpublished model and its weights (Conflict `model_published` otherwise)."""
        with self.db.write() as conn:
            row = self._row(conn, model_id, for_update=True)
            if row["published"]:
                raise Conflict(f"Model {row['name']!r} ({model_id}) is published: published models are kept for the "
                               "tasks that use them and can't be deleted.", {"model_id": model_id},
                               code="model_published")
            store.delete_model(conn, model_id)
        self.artifacts.storage.delete_tree(["models", model_id])

    # -- weights ---------------------------------------------------------------------------------

    def _writable(self, model_id: str) -> None:
        with self.db.read() as conn:
            row = self._row(conn, model_id)
        if row["published"]:
            raise _published(row, "weights")

    async def upload_weights(self, model_id: str, chunks: AsyncIterator[bytes], *, filename: str,
                             declared_size: int | None, expected_sha256: str | None) -> dict[str, Any]:
        """Stream weights in, check them, and make them the model's (the old ones are removed)."""
        # The artifact store's limit and streaming receive, so weights and artifacts take the same
        # path into storage (its part sizes, its abort on a broken upload).
        self.artifacts.check_declared_size(declared_size)
        await to_thread.run_sync(self._writable, model_id)
        pending = await self.artifacts.receive(["models", model_id], chunks)
        got = pending.sha256()
        if expected_sha256 and got != expected_sha256:
            await to_thread.run_sync(pending.abort)
            raise WeightsMismatch(
                f"The uploaded weights hash to {got} ({pending.size} bytes), not to {expected_sha256}: the file "
                "changed while it was sent. Nothing was stored; upload it again once it is written.",
                {"expected": expected_sha256, "received": got, "size": pending.size},
            )
        stored = await to_thread.run_sync(pending.commit, _weights_parts(model_id, got))
        return await to_thread.run_sync(self._point_at, model_id, stored.uri, stored.size, got, filename)

    def _point_at(self, model_id: str, uri: str, size: int, sha256: str, filename: str) -> dict[str, Any]:
        try:
            with self.db.write() as conn:
                row = self._row(conn, model_id, for_update=True)
                if row["published"]:  # published while the bytes were on their way
                    raise _published(row, "weights")
                store.update_model(conn, model_id, {"uri": uri, "size": size, "sha256": sha256, "filename": filename,
                                                    "last_update": now()})
        except LabtrackError:
            if row_sha(self.db, model_id) != sha256:
                self.artifacts.storage.delete(_weights_parts(model_id, sha256))
            raise
        old = row["sha256"]
        if old and old != sha256:
            self.artifacts.storage.delete(_weights_parts(model_id, old))
        return self.get(model_id)

    def open_weights(self, model_id: str) -> tuple[dict[str, Any], IO[bytes]]:
        """A model and an open stream of its weights; NotFound when it has none."""
        with self.db.read() as conn:
            model = _decode(self._row(conn, model_id))
        if not model["sha256"]:
            raise NotFound(f"Model {model['name']!r} ({model_id}) has no weights yet.", {"model_id": model_id},
                           code="no_weights")
        try:
            return model, self.artifacts.storage.open_read(_weights_parts(model_id, model["sha256"]))
        except FileNotFoundError:
            raise NotFound(f"The weights of model {model_id} are missing from the artifact store.",
                           {"model_id": model_id}) from None

    # -- task links ------------------------------------------------------------------------------

    def record_link(self, task_id: str, model_id: str, role: Role, name: str) -> dict[str, Any]:
        """Record that a task used (input) or made (output) a model; returns the task's models."""
        with self.db.write() as conn:
            if task_store.status_of(conn, task_id) is None:
                raise NotFound(f"Task {task_id} does not exist.", {"task_id": task_id})
            row = self._row(conn, model_id)
            store.set_link(conn, task_id, role, model_id, (name or row["name"])[:200], now())
            task_store.touch(conn, task_id, now())
        return self.task_models(task_id)

    def task_models(self, task_id: str) -> dict[str, list[dict[str, Any]]]:
        """A task's input and output models."""
        with self.db.read() as conn:
            if task_store.status_of(conn, task_id) is None:
                raise NotFound(f"Task {task_id} does not exist.", {"task_id": task_id})
            rows = store.task_links(conn, task_id)
        out: dict[str, list[dict[str, Any]]] = {"input": [], "output": []}
        for row in rows:
            out[row["role"]].append({"link_name": row["link_name"], "recorded": row["recorded"], **_decode(row)})
        return out


def row_sha(db: Database, model_id: str) -> str | None:
    """The sha256 a model's row points at now (None when it has none or is gone)."""
    with db.read() as conn:
        row = store.get(conn, model_id)
    return row["sha256"] if row else None


__all__ = ["ModelService", "WeightsMismatch", "parse_sort"]
