"""Artifacts: turning Python objects into files with a preview, and reading them back."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labtrack.sdk.errors import LabtrackError
from labtrack.sdk.progress import TransferProgress

if TYPE_CHECKING:
    from labtrack.sdk.client import ApiClient

PREVIEW_CHARS = 1000


def _write_stderr(line: str) -> None:
    # The caller waits on this download, so the line goes where its own output goes (a notebook cell).
    print(line, file=sys.stderr, flush=True)


def _preview(text: str) -> str:
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def serialize_artifact(obj: Any, staging: Path, name: str) -> tuple[Path, str, str]:
    """Write `obj` into `staging` and return `(file, type, preview)`.

    Dicts and lists become JSON, a path to a file is copied, a folder is zipped, a DataFrame
    becomes gzipped CSV, a numpy array `.npy`, a PIL image PNG; anything else is pickled.
    """
    staging.mkdir(parents=True, exist_ok=True)
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
        if path.is_file():
            dest = staging / path.name
            shutil.copyfile(path, dest)
            return dest, "file", f"{path.name}, {dest.stat().st_size} bytes"
        if path.is_dir():
            dest = staging / f"{path.name or name}.zip"
            count = 0
            with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
                for file in sorted(path.rglob("*")):
                    if file.is_file():
                        zf.write(file, file.relative_to(path).as_posix())
                        count += 1
            return dest, "folder", f"folder {path.name}: {count} files"
        raise LabtrackError(
            f"upload_artifact({name!r}): {obj!r} is neither an existing file nor a folder; to store the "
            "string itself, pass it inside a dict or list"
        )
    if isinstance(obj, (dict, list, tuple)):
        dest = staging / f"{name}.json"
        try:
            text = json.dumps(obj, indent=2, default=_no_json)
        except TypeError:
            return _pickle(obj, staging, name)
        dest.write_text(text)
        return dest, "json", _preview(text)
    mod = type(obj).__module__
    if mod.startswith("pandas") and hasattr(obj, "to_csv"):
        dest = staging / f"{name}.csv.gz"
        obj.to_csv(dest, compression="gzip")
        return dest, "pandas", _preview(f"{getattr(obj, 'shape', '')}\n{obj.head(10).to_string()}")
    if mod.startswith("numpy") and hasattr(obj, "shape"):
        import numpy as np

        dest = staging / f"{name}.npy"
        np.save(dest, obj, allow_pickle=False)
        return dest, "numpy", _preview(f"shape={obj.shape} dtype={obj.dtype}\n{np.array2string(obj, threshold=50)}")
    if mod.startswith("PIL.") and hasattr(obj, "save"):
        dest = staging / f"{name}.png"
        obj.save(dest, format="PNG")
        return dest, "image", f"image {obj.size[0]}x{obj.size[1]} {obj.mode}"
    return _pickle(obj, staging, name)


def _no_json(obj: Any) -> Any:
    raise TypeError(f"{type(obj).__name__} is not JSON")


def _pickle(obj: Any, staging: Path, name: str) -> tuple[Path, str, str]:
    dest = staging / f"{name}.pkl"
    try:
        with open(dest, "wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise LabtrackError(f"upload_artifact({name!r}): cannot serialize {type(obj).__name__}: {exc}") from exc
    return dest, "pickle", _preview(repr(obj))


def load_artifact_file(path: Path, type_name: str) -> Any:
    """Rebuild the Python object from a downloaded artifact file."""
    if type_name == "json":
        return json.loads(path.read_text())
    if type_name == "pandas":
        import pandas as pd

        return pd.read_csv(path, index_col=0, compression="gzip")
    if type_name == "numpy":
        import numpy as np

        return np.load(path, allow_pickle=False)
    if type_name == "image":
        from PIL import Image

        with Image.open(path) as img:
            img.load()
            return img.copy()
    if type_name == "pickle":
        with open(path, "rb") as fh:
            return pickle.load(fh)  # artifacts of your own tasks only: pickle runs code on load
    return path  # files and folders: the local copy is the object


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Artifact:
    """One stored artifact of a task: its record, and ways to get its content."""

    key: str
    type: str
    uri: str = ""
    filename: str = ""
    size: int | None = None
    sha256: str = ""
    preview: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    task_id: str = ""
    _client: "ApiClient | None" = field(default=None, repr=False)
    _local_path: Path | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.key

    @classmethod
    def from_api(cls, record: dict[str, Any], task_id: str, client: "ApiClient") -> "Artifact":
        return cls(
            key=record["key"], type=record.get("type", ""), uri=record.get("uri", ""),
            filename=record.get("filename") or "", size=record.get("size"), sha256=record.get("sha256") or "",
            preview=record.get("preview") or "", metadata=record.get("metadata") or {},
            task_id=task_id, _client=client,
        )

    def _download(self) -> Path:
        if self._local_path is not None:
            return self._local_path
        if self._client is None:
            raise LabtrackError(f"artifact {self.key!r} has no server to download from")
        from labtrack import paths

        folder = paths.data_dir() / "cache" / "artifacts" / self.task_id / f"{self.key}-{(self.sha256 or 'x')[:16]}"
        dest = folder / (self.filename or self.key)
        if dest.exists() and self.sha256 and sha256_file(dest) == self.sha256:
            return dest
        folder.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        progress = TransferProgress(f"downloading artifact {self.key!r}", self.size, _write_stderr)
        with open(tmp, "wb") as fh:
            for chunk in self._client.download(f"/tasks/{self.task_id}/artifacts/{self.key}/content"):
                fh.write(chunk)
                progress.advance(len(chunk))
        progress.finish()
        os.replace(tmp, dest)
        return dest

    def get_local_copy(self, extract_archive: bool = True) -> str:
        """Download (once, cached) and return the local path; folders come back extracted."""
        path = self._download()
        if self.type == "folder" and extract_archive:
            target = path.with_suffix("")
            if not target.exists():
                with zipfile.ZipFile(path) as zf:
                    zf.extractall(target)
            return str(target)
        return str(path)

    def get(self) -> Any:
        """The stored object: dict/list, DataFrame, ndarray, PIL image, unpickled object, or a path."""
        if self.type in ("file", "folder"):
            return self.get_local_copy()
        return load_artifact_file(self._download(), self.type)
