"""`Dataset`: versioned, deduplicated file collections with lineage (ClearML's Dataset verbs).

A version is a draft until `finalize()`, then immutable. Adding files hashes them locally and
sends only their manifest entries; the server answers which contents it lacks, and `upload()`
sends just those, so a file shared by many versions is uploaded and stored once. Where each added
content lives on this machine is kept in a small staging file per draft, so `upload()` works
from another process (the CLI) and a rerun after an interrupted upload sends only what is still
missing. The server refuses to finalize a draft whose bytes are not all stored: a version is
never half-final.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from labtrack import paths
from labtrack.sdk import current
from labtrack.sdk.client import ApiClient
from labtrack.sdk.dataset_files import (
    CorruptedCopyError,
    DatasetError,
    FileChangedError,
    HashedFile,
    Progress,
    collect_files,
    dataset_path,
    default_workers,
    hash_files,
    parallel_map,
)
from labtrack.sdk.dataset_transfer import (
    BlobCache,
    Upload,
    batches,
    cache_root,
    fetch_many,
    folder_lock,
    place,
    upload_blobs,
)
from labtrack.sdk.errors import ApiError, NotFound
from labtrack.sdk.records import ServerRecord
from labtrack.sdk.transfer import discard, note, sha256_file

BATCH = 5000  # manifest entries per request (the server takes up to 10,000)
PAGE = 10_000


class DatasetNotFound(DatasetError):
    """No dataset version matches what was asked for."""


@dataclass
class DatasetDiff:
    """What changed from `other` to this version: paths added, removed, and with changed contents."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.modified)


@contextlib.contextmanager
def _as_dataset_errors() -> Iterator[None]:
    """The server's refusals of dataset input (404, 409, 422) as DatasetError with its message."""
    try:
        yield
    except ApiError as exc:
        if exc.status in (404, 409, 422):
            raise DatasetError(exc.message) from exc
        raise


def _staging_file(dataset_id: str) -> Path:
    return paths.data_dir() / "datasets" / "staging" / f"{dataset_id}.json"


class _Staging:
    """Where each content hash added to a draft can be read on this machine (sha256 → file path)."""

    def __init__(self, dataset_id: str) -> None:
        self.file = _staging_file(dataset_id)
        try:
            self.sources: dict[str, str] = json.loads(self.file.read_text())
        except (OSError, ValueError):
            self.sources = {}

    def add(self, files: list[HashedFile]) -> None:
        for f in files:
            self.sources[f.sha256] = str(f.source)
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.sources))
        os.replace(tmp, self.file)

    def clear(self) -> None:
        discard(self.file)


class Dataset(ServerRecord):
    """One dataset version on the tracking server.

    Make one with `Dataset.create(...)` (a new draft) or `Dataset.get(...)` (an existing version).
    """

    def __init__(self, record: dict[str, Any], client: ApiClient) -> None:
        self._record = record
        self._client = client
        self._manifest: dict[str, dict[str, Any]] | None = None

    # -- finding and making versions -----------------------------------------------------------

    @classmethod
    def create(cls, dataset_name: str, dataset_project: str, parent_datasets: Sequence["str | Dataset"] | None = None,
               version: str | None = None, description: str | None = None, *, client: ApiClient | None = None) -> "Dataset":
        """A new draft version; it starts with its parents' files (parents must be final).

        Without `version`, the server picks the next after the highest dotted-number one (1.0.0 first).
        """
        client = client or ApiClient.from_environment()
        parents = [p.id if isinstance(p, Dataset) else str(p) for p in (parent_datasets or [])]
        body: dict[str, Any] = {"project": dataset_project, "name": dataset_name, "description": description or "",
                                "parents": parents}
        if version is not None:
            body["version"] = str(version)
        with _as_dataset_errors():
            return cls(client.post("/datasets", body), client)

    @classmethod
    def get(cls, dataset_id: str | None = None, dataset_project: str | None = None, dataset_name: str | None = None,
            version: str | None = None, *, alias: str | None = None, include_drafts: bool = False,
            client: ApiClient | None = None) -> "Dataset":
        """A version by id, or by project and name (the latest final one, or the given `version`).

        With `alias` inside a running task, the version is recorded as that task's input (shown on
        the task as hyperparameter `Datasets/<alias>`). Raises DatasetNotFound when nothing matches.
        """
        client = client or ApiClient.from_environment()
        if dataset_id:
            try:
                record = client.get(f"/datasets/{dataset_id}")
            except NotFound:
                raise DatasetNotFound(f"No dataset version with id {dataset_id!r}.") from None
        else:
            if not dataset_name:
                raise DatasetError("Dataset.get needs dataset_id, or dataset_name (with dataset_project).")
            params: dict[str, Any] = {"name": dataset_name, "limit": 1}
            if dataset_project:
                params["project"] = dataset_project
            if version is not None:
                params["version"] = str(version)
            if not include_drafts:
                params["state"] = "final"
            items = client.get("/datasets", params=params)["items"]
            if not items:
                what = f"{dataset_project + '/' if dataset_project else ''}{dataset_name}"
                which = f"version {version}" if version is not None else "a final version"
                hint = "" if include_drafts else " (drafts are left out: finalize it, or pass include_drafts=True)"
                raise DatasetNotFound(f"Dataset {what!r} has no {which}{hint}.")
            record = items[0]
        dataset = cls(record, client)
        if alias:
            dataset._record_as_input(alias)
        return dataset

    @classmethod
    def list_datasets(cls, dataset_project: str | None = None, partial_name: str | None = None,
                      only_completed: bool = False, *, client: ApiClient | None = None) -> list[dict[str, Any]]:
        """Versions (as dicts), newest first."""
        client = client or ApiClient.from_environment()
        params: dict[str, Any] = {}
        if dataset_project:
            params["project"] = dataset_project
        if partial_name:
            params["search"] = partial_name
        if only_completed:
            params["state"] = "final"
        return list(client.paginate("/datasets", params, limit=1000))

    def _record_as_input(self, alias: str) -> None:
        task = current.current_task()
        if task is None:
            return  # outside a task there is nothing to record
        self._client.post(f"/tasks/{task.id}/datasets", {"alias": alias, "dataset_id": self.id})

    # -- what a version is ---------------------------------------------------------------------

    @property
    def version(self) -> str:
        return str(self._record["version"])

    @property
    def state(self) -> str:
        return str(self._record["state"])

    @property
    def is_final(self) -> bool:
        return self.state == "final"

    @property
    def description(self) -> str:
        return str(self._record.get("description") or "")

    @property
    def parents(self) -> list[str]:
        return list(self._record.get("parents") or [])

    @property
    def file_count(self) -> int:
        return int(self._record.get("file_count") or 0)

    @property
    def total_size(self) -> int:
        return int(self._record.get("total_size") or 0)

    def __repr__(self) -> str:
        return f"<labtrack.Dataset {self.id} {self.project}/{self.name} {self.version} ({self.state})>"

    def refresh(self) -> "Dataset":
        """Re-read the version from the server."""
        self._record = self._client.get(f"/datasets/{self.id}")
        return self

    def get_parents(self) -> list["Dataset"]:
        """The parent versions."""
        return [Dataset.get(p, client=self._client) for p in self.parents]

    def lineage(self) -> list["Dataset"]:
        """This version, then its ancestors nearest first."""
        return [Dataset(r, self._client) for r in self._client.get(f"/datasets/{self.id}/lineage")["items"]]

    def file_entries(self) -> dict[str, dict[str, Any]]:
        """The manifest: path → {"path", "size", "sha256"} (read in pages; kept once final)."""
        if self._manifest is not None:
            return self._manifest
        entries = {e["path"]: e for e in self._client.paginate(f"/datasets/{self.id}/files", limit=PAGE)}
        if self.is_final:
            self._manifest = entries
        return entries

    def list_files(self, dataset_path: str | None = None) -> list[str]:
        """The version's file paths, sorted; `dataset_path` is an fnmatch pattern (e.g. 'images/*.png')."""
        found = sorted(self.file_entries())
        return [p for p in found if fnmatch.fnmatch(p, dataset_path)] if dataset_path else found

    def diff(self, other: "Dataset") -> DatasetDiff:
        """What changed from `other` to this version (added, removed, modified paths)."""
        mine, theirs = self.file_entries(), other.file_entries()
        return DatasetDiff(
            added=sorted(set(mine) - set(theirs)),
            removed=sorted(set(theirs) - set(mine)),
            modified=sorted(p for p in set(mine) & set(theirs) if mine[p]["sha256"] != theirs[p]["sha256"]),
        )

    # -- changing a draft ----------------------------------------------------------------------

    def _require_draft(self, verb: str) -> None:
        if self.is_final:
            raise DatasetError(f"Can't {verb}: {self.project}/{self.name} version {self.version} is final and "
                               "immutable. Create a new version with it as a parent.")

    def _send(self, add: list[HashedFile], remove: list[str]) -> list[str]:
        """Send manifest changes in batches; returns the hashes the server lacks."""
        missing: list[str] = []
        for start in range(0, max(len(add), len(remove), 1), BATCH):
            batch_add = [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in add[start:start + BATCH]]
            batch_remove = remove[start:start + BATCH]
            if not batch_add and not batch_remove:
                continue
            with _as_dataset_errors():
                answer = self._client.post(f"/datasets/{self.id}/files", {"add": batch_add, "remove": batch_remove})
            missing += answer["missing"]
            self._record["file_count"], self._record["total_size"] = answer["file_count"], answer["total_size"]
        return missing

    def add_files(self, path: str | os.PathLike[str], wildcard: str | Sequence[str] | None = None,
                  recursive: bool = True, dataset_path: str = "", *, show_progress: bool = True) -> int:
        """Add a file or a folder's files (matching `wildcard`) to the draft; returns how many.

        Files are hashed here (in parallel) and their manifest entries sent; their bytes go up with
        `upload()`. A path already in the draft is replaced.
        """
        self._require_draft("add files")
        hashed = hash_files(collect_files(path, wildcard, recursive, dataset_path), show_progress=show_progress)
        _Staging(self.id).add(hashed)
        self._send(hashed, [])
        return len(hashed)

    def remove_files(self, dataset_path: str, recursive: bool = True) -> int:
        """Remove the draft's files matching an fnmatch pattern, or everything under a folder; returns how many."""
        self._require_draft("remove files")
        pattern = dataset_path.strip("/")
        doomed = [p for p in self.list_files() if fnmatch.fnmatch(p, pattern) or (recursive and p.startswith(pattern + "/"))]
        self._send([], doomed)
        return len(doomed)

    def sync_folder(self, local_path: str | os.PathLike[str], dataset_path: str = "", *,
                    show_progress: bool = True) -> tuple[int, int, int]:
        """Make the draft's files under `dataset_path` match a local folder: (removed, added, modified)."""
        self._require_draft("sync a folder")
        prefix = dataset_path_prefix(dataset_path)
        current_files = {p: e for p, e in self.file_entries().items() if not prefix or p.startswith(prefix)}
        hashed = hash_files(collect_files(local_path, None, True, dataset_path), show_progress=show_progress)
        local = {f.path: f for f in hashed}
        changed = [f for f in hashed if f.path not in current_files or current_files[f.path]["sha256"] != f.sha256]
        removed = sorted(set(current_files) - set(local))
        _Staging(self.id).add(changed)
        self._send(changed, removed)
        added = sum(1 for f in changed if f.path not in current_files)
        return len(removed), added, len(changed) - added

    def upload(self, show_progress: bool = True, *, workers: int | None = None) -> dict[str, int]:
        """Send the bytes the server lacks for this draft (only those; a rerun resumes).

        Raises FileChangedError for files that changed since they were added (their bytes no longer
        match the manifest): add them again, then upload. Everything else is uploaded first.
        """
        missing = list(self._client.paginate(f"/datasets/{self.id}/missing", limit=PAGE))
        staging = _Staging(self.id)
        uploads, unknown = [], []
        for item in missing:
            source = staging.sources.get(item["sha256"])
            if source is None:
                unknown.append(item["sha256"])
            else:
                uploads.append(Upload(item["sha256"], int(item["size"]), Path(source)))
        report = upload_blobs(self._client, uploads, show_progress=show_progress, workers=workers)
        if report.changed:
            shown = ", ".join(str(p) for p in report.changed[:5])
            raise FileChangedError(
                f"{len(report.changed)} file(s) changed after they were added ({shown}{', …' if len(report.changed) > 5 else ''}): "
                "add them again (add_files / `labtrack data add`), then upload. The other files are uploaded.",
                [str(p) for p in report.changed],
            )
        if unknown:
            raise DatasetError(f"{len(unknown)} file content(s) of this draft were added on another machine or by a "
                               "process whose staging record is gone: add those files again here, then upload.")
        return {"uploaded": report.uploaded, "bytes": report.bytes_sent, "already_stored": report.already_stored}

    def finalize(self, auto_upload: bool = False) -> "Dataset":
        """Make the draft final (immutable); with `auto_upload`, upload what is missing first."""
        if self.is_final:
            raise DatasetError(f"{self.project}/{self.name} version {self.version} is already final.")
        if auto_upload:
            self.upload()
        try:
            self._record = self._client.post(f"/datasets/{self.id}/finalize")
        except ApiError as exc:
            if exc.code == "upload_incomplete":
                raise DatasetError(f"{exc.details.get('missing')} file content(s) are not uploaded yet: call upload() "
                                   "(or `labtrack data upload`), then finalize. The draft is unchanged.") from None
            raise
        _Staging(self.id).clear()
        return self

    # -- local copies ----------------------------------------------------------------------------

    def _fetch_all(self, entries: list[dict[str, Any]], cache: BlobCache, show_progress: bool,
                   workers: int | None) -> dict[str, Path]:
        """Every distinct blob of `entries` in the local cache, verified: sha256 → cached path."""
        by_sha = {e["sha256"]: int(e["size"]) for e in entries}
        workers = workers or default_workers()
        found: dict[str, Path] = {}
        todo: list[tuple[str, int]] = []
        for (sha, size), cached in zip(by_sha.items(), parallel_map(lambda i: cache.verified(*i), by_sha.items(), workers)):
            if cached:
                found[sha] = cached
            else:
                todo.append((sha, size))
        with Progress("downloading", sum(size for _sha, size in todo), show_progress) as bar:

            def group(items: list[tuple[str, int]]) -> dict[str, Path]:
                if len(items) == 1:
                    return {items[0][0]: cache.fetch(*items[0], bar.update)}
                return fetch_many(cache, items, bar.update)

            for fetched in parallel_map(group, batches(todo, lambda i: i[1]), workers):
                found.update(fetched)
        return found

    def get_local_copy(self, *, verify: bool = True, show_progress: bool = True, workers: int | None = None) -> str:
        """A read-only local copy of a final version (cached; every file's sha256 checked).

        A cached file whose bytes no longer match the manifest is downloaded again, with a note;
        bytes the server sends that don't match raise CorruptedCopyError. `verify=False` checks
        sizes only (faster for big warm copies).
        """
        if not self.is_final:
            raise DatasetError("get_local_copy() is for final versions (a draft can still change): finalize it, "
                               "or use get_mutable_local_copy(folder).")
        root = cache_root()
        folder = root / "versions" / self.id
        entries = self.file_entries()
        with folder_lock(root / "locks" / f"{self.id}.lock"):
            folder.mkdir(parents=True, exist_ok=True)
            self._drop_strays(folder, entries)
            workers = workers or default_workers()

            def intact(entry: dict[str, Any]) -> bool:
                target = folder / entry["path"]
                try:
                    if target.stat().st_size != int(entry["size"]):
                        return False
                    return not verify or sha256_file(target)[0] == entry["sha256"]
                except OSError:
                    return False

            ordered = list(entries.values())
            with Progress("verifying", len(ordered), show_progress and verify) as bar:
                def checked(entry: dict[str, Any]) -> bool:
                    ok = intact(entry)
                    bar.update(1)
                    return ok

                bad = [e for e, ok in zip(ordered, parallel_map(checked, ordered, workers)) if not ok]
            damaged = [e["path"] for e in bad if (folder / e["path"]).exists()]
            if damaged:
                note(f"{len(damaged)} file(s) of the cached copy of {self.name} {self.version} did not match their "
                     f"sha256 ({', '.join(damaged[:3])}{', …' if len(damaged) > 3 else ''}): downloading them again.")
            cache = BlobCache(self._client, root)
            for entry in bad:
                discard(folder / entry["path"])  # a tampered link may share its inode with the cached blob
            blobs = self._fetch_all(bad, cache, show_progress, workers)
            for entry in bad:
                place(blobs[entry["sha256"]], folder / entry["path"], linked=True)
                if sha256_file(folder / entry["path"])[0] != entry["sha256"]:
                    raise CorruptedCopyError(f"{entry['path']} does not match its sha256 even after a fresh download.")
        return str(folder)

    @staticmethod
    def _drop_strays(folder: Path, entries: dict[str, dict[str, Any]]) -> None:
        """Remove files in a cached copy that the manifest does not name (the copy must be exact)."""
        for base, _dirs, files in os.walk(folder):
            for name in files:
                full = Path(base) / name
                if full.relative_to(folder).as_posix() not in entries:
                    discard(full)

    def get_mutable_local_copy(self, target_folder: str | os.PathLike[str], overwrite: bool = False, *,
                               show_progress: bool = True, workers: int | None = None) -> str:
        """A writable copy of the version's files in `target_folder` (which must be empty unless `overwrite`)."""
        target = Path(target_folder).expanduser()
        if target.exists() and any(target.iterdir()):
            if not overwrite:
                raise DatasetError(f"{target} is not empty: pick an empty folder or pass overwrite=True.")
            shutil.rmtree(target)
        target.mkdir(parents=True, exist_ok=True)
        entries = list(self.file_entries().values())
        blobs = self._fetch_all(entries, BlobCache(self._client), show_progress, workers)
        for entry in entries:
            place(blobs[entry["sha256"]], target / entry["path"], linked=False)
        return str(target)


def dataset_path_prefix(folder: str) -> str:
    """'a/b' → 'a/b/' (and '' for the dataset root)."""
    cleaned = dataset_path(folder)
    return cleaned + "/" if cleaned else ""


__all__ = ["CorruptedCopyError", "Dataset", "DatasetDiff", "DatasetError", "DatasetNotFound", "FileChangedError"]
