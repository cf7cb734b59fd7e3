"""Models: `OutputModel` (weights a task made), `InputModel` (a registered model a task loads), `Model`.

ClearML's verbs over the server's `/models` registry. `OutputModel.update_weights(path)` hashes
the file, then streams it up with that hash; the server stores the bytes only if they still hash
to it, so a file rewritten mid-upload is refused whole and nothing half-written is registered.
`get_local_copy()` downloads into a per-user cache keyed by the weights' sha256 and hands out a
read-only file whose bytes were checked against that hash: the cache never holds unverified bytes
under a hash's name, and a copy tampered with later is noticed and downloaded again.

Nothing here imports `task.py`: the task reaches this module as an argument (or through
`current.current_task()`), seen only through the small `_TaskLike` protocol.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol, Sequence

from labtrack.sdk import current, transfer
from labtrack.sdk.client import ApiClient
from labtrack.sdk.errors import ApiError, LabtrackError, ServerUnreachable
from labtrack.sdk.progress import CountingReader, TransferProgress
from labtrack.sdk.records import ServerRecord
from labtrack.sdk.transfer import CHUNK, RETRIES, note

UPLOAD_TIMEOUT = (5.0, 600.0)  # the server answers once the last byte is stored and hashed


class ModelError(LabtrackError):
    """A model operation that can't go on: the message says what to do.

    `status` and `code` are the server's answer when it refused (e.g. 409 `model_published`).
    """

    def __init__(self, message: str, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ModelNotFound(ModelError):
    """No model matches what was asked for."""


class CorruptedModelError(ModelError):
    """Downloaded bytes do not hash to the model's sha256, even after a fresh download."""


class _TaskLike(Protocol):
    """What this module needs of a `Task`."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def offline(self) -> bool: ...
    @property
    def client(self) -> ApiClient: ...


@contextlib.contextmanager
def _as_model_errors() -> Iterator[None]:
    """The server's refusals of model input (404, 409, 422) as ModelError with its message."""
    try:
        yield
    except ApiError as exc:
        if exc.status == 404:
            raise ModelNotFound(exc.message, exc.status, exc.code) from exc
        if exc.status in (400, 409, 413, 422):
            raise ModelError(exc.message, exc.status, exc.code) from exc
        raise


def cache_root() -> Path:
    """Where local copies live: `LABTRACK_MODEL_CACHE`, else `<labtrack home or user cache>/models`."""
    return transfer.cache_root("models", "LABTRACK_MODEL_CACHE")


def _line(text: str) -> None:
    # The caller waits on this transfer, so the line goes where its own output goes (a notebook cell).
    print(text, file=sys.stderr, flush=True)


def _sha256(path: Path) -> str:
    return transfer.sha256_file(path)[0]


def _with_retries(what: str, call: Any) -> Any:
    """Run `call()`, again after a pause when the server is unreachable or busy (bounded)."""
    for attempt in range(RETRIES):
        try:
            return call()
        except ServerUnreachable as exc:
            if attempt == RETRIES - 1:
                raise
            wait = transfer.retry_wait(attempt, exc)
        except ApiError as exc:
            if (exc.status < 500 and exc.status != 429) or attempt == RETRIES - 1:
                raise
            wait = transfer.retry_wait(attempt, exc)
        note(f"{what}: the server did not take it, trying again in {wait:.1f}s")
        time.sleep(wait)
    raise AssertionError("unreachable")


def _counted(chunks: Iterable[bytes], progress: TransferProgress) -> Iterator[bytes]:
    """`chunks`, each counted on `progress`, whose last line is written once they are all through."""
    for chunk in chunks:
        progress.advance(len(chunk))
        yield chunk
    progress.finish()


class Model(ServerRecord):
    """A registered model, read from the server: `Model(model_id)`, or `Model.query_models(...)`."""

    def __init__(self, model_id: str, *, client: ApiClient | None = None) -> None:
        self._client = client or ApiClient.from_environment()
        self._record: dict[str, Any] = {}
        self._load(model_id)

    def _load(self, model_id: str) -> None:
        if not isinstance(model_id, str) or not model_id:
            raise ModelError(f"A model id is a 32-character hex string, got {model_id!r}.")
        with _as_model_errors():
            try:
                self._record = self._client.get(f"/models/{model_id}")
            except ApiError as exc:
                if exc.status == 404:
                    raise ModelNotFound(f"No model with id {model_id!r}.", 404, exc.code) from exc
                raise

    @classmethod
    def _from_record(cls, record: dict[str, Any], client: ApiClient) -> "Model":
        model = cls.__new__(cls)
        Model._init_from(model, record, client)
        return model

    @staticmethod
    def _init_from(model: "Model", record: dict[str, Any], client: ApiClient) -> None:
        model._client = client
        model._record = record

    # -- the registry --------------------------------------------------------------------------

    @classmethod
    def query_models(cls, project_name: str | None = None, model_name: str | None = None,
                     tags: Sequence[str] | None = None, only_published: bool = False, *,
                     framework: str | None = None, partial_name: str | None = None, max_results: int | None = None,
                     client: ApiClient | None = None) -> list["Model"]:
        """Models matching every filter given, newest first.

        `model_name` is the exact name, `partial_name` any part of it (any case); every tag in
        `tags` must be on a model. `max_results` bounds the answer (all matches otherwise).
        """
        client = client or ApiClient.from_environment()
        params: dict[str, Any] = {"sort": "-created"}
        if project_name:
            params["project"] = project_name
        if model_name:
            params["name"] = model_name
        if partial_name:
            params["search"] = partial_name
        if tags:
            params["tags"] = ",".join(tags)
        if framework:
            params["framework"] = framework
        if only_published:
            params["published"] = "true"
        found: list[Model] = []
        with _as_model_errors():
            for record in client.paginate("/models", params, limit=min(max_results or 1000, 1000)):
                found.append(Model._from_record(record, client))
                if max_results is not None and len(found) >= max_results:
                    break
        return found

    # -- what a model is -------------------------------------------------------------------------

    @property
    def framework(self) -> str:
        return str(self._record.get("framework") or "")

    @property
    def comment(self) -> str:
        return str(self._record.get("comment") or "")

    @property
    def tags(self) -> list[str]:
        return list(self._record.get("tags") or [])

    @property
    def labels(self) -> dict[str, int]:
        """Label name → integer id (ClearML's label enumeration)."""
        return dict(self._record.get("labels") or {})

    @property
    def url(self) -> str:
        """Where the weights are stored ('' until weights are uploaded)."""
        return str(self._record.get("uri") or "")

    @property
    def size(self) -> int | None:
        return self._record.get("size")

    @property
    def sha256(self) -> str:
        return str(self._record.get("sha256") or "")

    @property
    def published(self) -> bool:
        return bool(self._record.get("published"))

    @property
    def task(self) -> str | None:
        """The id of the task that made the model (None when none, or it was deleted)."""
        task = self._record.get("task")
        return task["id"] if task else None

    @property
    def used_by(self) -> list[dict[str, Any]]:
        """Tasks that recorded this model as their input (`task_id`, `name`, …), newest first."""
        if "used_by" not in self._record:
            self.refresh()
        return list(self._record.get("used_by") or [])

    def __repr__(self) -> str:
        state = "published" if self.published else "draft"
        return f"<labtrack.{type(self).__name__} {self.id} {self.project}/{self.name} ({state})>"

    def refresh(self) -> "Model":
        """Re-read the model from the server."""
        self._load(self.id)
        return self

    def get_metadata(self, key: str) -> str | None:
        """The value stored under `key` (as text), or None."""
        item = (self._record.get("metadata") or {}).get(key)
        return None if item is None else str(item.get("value"))

    def get_all_metadata(self) -> dict[str, dict[str, str]]:
        """Every metadata entry: key → {"value", "type"}."""
        return {k: dict(v) for k, v in (self._record.get("metadata") or {}).items()}

    def publish(self) -> None:
        """Make the model immutable (it needs weights first)."""
        with _as_model_errors():
            self._record = self._client.post(f"/models/{self.id}/publish")

    # -- local copies ----------------------------------------------------------------------------

    def get_local_copy(self, *, verify: bool = True) -> str:
        """A read-only local copy of the weights (downloaded once, cached, sha256 checked).

        A cached copy whose bytes no longer match is downloaded again, with a note; bytes the
        server sends that don't match raise CorruptedModelError. `verify=False` checks the size
        only (faster for big warm copies).
        """
        if not self.sha256:
            self.refresh()
        if not self.sha256:
            raise ModelError(f"Model {self.name!r} ({self.id}) has no weights yet: nothing to download.")
        folder = cache_root() / self.id / self.sha256
        target = folder / (Path(self._record.get("filename") or "").name or "weights.bin")
        try:
            if target.stat().st_size == self.size and (not verify or _sha256(target) == self.sha256):
                return str(target)
            note(f"the cached copy of model {self.name!r} ({target}) does not match its sha256: downloading it again.")
        except OSError:
            pass  # not cached yet
        transfer.discard(target)
        folder.mkdir(parents=True, exist_ok=True)
        _with_retries(f"downloading model {self.name!r}", lambda: self._download(target))
        return str(target)

    def _download(self, target: Path) -> None:
        progress = TransferProgress(f"downloading model {self.name!r}", self.size, _line)

        def damaged(got_sha256: str, _got: int) -> CorruptedModelError:
            return CorruptedModelError(
                f"The server sent bytes hashing to {got_sha256} for model {self.name!r}, whose weights "
                f"are {self.sha256}: its stored copy may be damaged, or the weights changed (refresh() and "
                "try again)."
            )

        chunks = _counted(self._client.download(f"/models/{self.id}/weights", CHUNK), progress)
        transfer.write_verified(target, chunks, self.sha256, mismatch=damaged)


class InputModel(Model):
    """A registered model a task loads: by id, or the newest matching name/project/tags.

    `task.connect(input_model)` records it as the task's input (shown on the task and the model).
    """

    def __init__(self, model_id: str | None = None, name: str | None = None, project: str | None = None,
                 tags: Sequence[str] | None = None, only_published: bool = False, *,
                 client: ApiClient | None = None) -> None:
        client = client or ApiClient.from_environment()
        if model_id:
            Model.__init__(self, model_id, client=client)
            return
        if not name and not project and not tags:
            raise ModelError("InputModel needs model_id, or name / project / tags to look the model up by.")
        found = Model.query_models(project, name, tags, only_published, max_results=1, client=client)
        if not found:
            what = ", ".join(f"{k}={v!r}" for k, v in (("name", name), ("project", project), ("tags", tags)) if v)
            published = "published " if only_published else ""
            raise ModelNotFound(f"No {published}model matches {what}.")
        Model._init_from(self, found[0]._record, client)

    def connect(self, task: _TaskLike, name: str | None = None) -> None:
        """Record this model as `task`'s input (ClearML's `InputModel.connect(task)`)."""
        record_input(task, self, name)


def record_input(task: _TaskLike, model: Model, name: str | None = None) -> None:
    """Record `model` as `task`'s input model (`task.connect(model)` calls this)."""
    if task.offline:
        raise ModelError("An offline task can't record an input model: models live on the server.")
    with _as_model_errors():
        task.client.post(f"/tasks/{task.id}/models", {"model_id": model.id, "role": "input", "name": name or ""})


class OutputModel(Model):
    """The model a task makes: registered at once (as the task's output), weights via `update_weights`."""

    def __init__(self, task: _TaskLike | None = None, name: str | None = None, framework: str | None = None,
                 tags: Sequence[str] | None = None, comment: str | None = None,
                 label_enumeration: dict[str, int] | None = None) -> None:
        task = task if task is not None else current.current_task()
        if task is None:
            raise ModelError("OutputModel needs a task: call Task.init(...) first, or pass task=.")
        if task.offline:
            raise ModelError("OutputModel needs an online task: models live on the server (this task is offline).")
        client = task.client
        body: dict[str, Any] = {"name": name or task.name, "task_id": task.id, "framework": framework or "",
                                "tags": list(tags or []), "comment": comment or "",
                                "labels": dict(label_enumeration or {})}
        with _as_model_errors():
            record = client.post("/models", body)
        Model._init_from(self, record, client)

    def update_weights(self, weights_filename: str | os.PathLike[str]) -> str:
        """Upload a weights file (streamed) and make it the model's; returns the stored uri.

        Raises ModelError when the file is missing, changed while it was sent (nothing is stored),
        or the model is published (immutable).
        """
        path = Path(weights_filename).expanduser()
        if not path.is_file():
            what = "is a folder (zip it first)" if path.is_dir() else "does not exist"
            raise ModelError(f"update_weights: {path} {what}; pass the path of the weights file.")
        if self.published:
            raise ModelError(f"Model {self.name!r} is published and immutable: its weights can't change.", 409,
                             "model_published")
        sha256 = _sha256(path)

        def send() -> dict[str, Any]:
            size = path.stat().st_size
            progress = TransferProgress(f"uploading model {self.name!r}", size, _line)
            with open(path, "rb") as fh:
                answer = self._client._call(
                    "PUT", f"/models/{self.id}/weights", data=CountingReader(fh, size, progress),
                    params={"filename": path.name, "sha256": sha256},
                    headers={"Content-Type": "application/octet-stream"}, timeout=UPLOAD_TIMEOUT,
                )
            progress.finish()
            return answer  # type: ignore[no-any-return]

        with _as_model_errors():
            try:
                self._record = _with_retries(f"uploading model {self.name!r}", send)
            except ApiError as exc:
                if exc.code == "hash_mismatch":
                    raise ModelError(f"update_weights: {path} changed while it was uploaded; nothing was stored. "
                                     "Call update_weights again once the file is fully written.", exc.status,
                                     exc.code) from exc
                raise
        return self.url

    def update_labels(self, labels: dict[str, int]) -> None:
        """Replace the label enumeration (label name → integer id)."""
        self._patch({"labels": {str(k): int(v) for k, v in labels.items()}})

    def set_metadata(self, key: str, value: Any, v_type: str | None = None) -> bool:
        """Store `value` (as text) under `key`, with its type name (default: the value's)."""
        self._patch({"metadata": {str(key): {"value": str(value), "type": v_type or type(value).__name__}}})
        return True

    def remove_metadata(self, key: str) -> bool:
        """Drop the metadata entry `key`; returns whether it existed."""
        had = key in (self._record.get("metadata") or {})
        self._patch({"metadata": {str(key): None}})
        return had

    def set_comment(self, comment: str) -> None:
        self._patch({"comment": str(comment)})

    def add_tags(self, tags: str | Sequence[str]) -> None:
        """Add tags (kept unique, in order)."""
        new = [tags] if isinstance(tags, str) else list(tags)
        self._patch({"tags": list(dict.fromkeys([*self.tags, *new]))})

    def _patch(self, body: dict[str, Any]) -> None:
        with _as_model_errors():
            self._record = self._client.patch(f"/models/{self.id}", body)


__all__ = ["CorruptedModelError", "InputModel", "Model", "ModelError", "ModelNotFound", "OutputModel", "cache_root"]
