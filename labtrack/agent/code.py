"""Materialise a task's code in a run folder: a git checkout, the stored script, or the notebook.

What the agent reads from `task.script` (what `Task.init`, `Task.create` and JupyterLab's Track
store; see `labtrack/sdk/remote.py`):

- `repository` (+ `commit`, else `branch`): cloned from a cache of bare mirrors under
  `<workdir>/repos` (one per URL, fetched only when the commit is missing), checked out detached
  at the commit, then the uncommitted `diff` applied with `git apply`;
- no repository: `diff` is the whole script's text (ClearML's "literal script"), written to the
  basename of `entry_point`;
- `notebook` (the snapshot, a dict or JSON text): written to `working_dir/entry_point` (inside the
  checkout when there is a repository, so the notebook can import its neighbours).

Invariant: the run folder is built from the task alone; a failure raises `CodeError` with a
message a person can act on, and nothing outside `<workdir>` is written.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterator


class CodeError(Exception):
    """The task's code can't be materialised (no code stored, clone or diff failed)."""


@dataclass
class Code:
    """Where a task's code now lives and how to start it."""

    kind: str  # "script" or "notebook"
    root: Path  # the checkout or the folder holding the stored file
    cwd: Path  # where the process starts
    entry: Path  # the script or notebook to run
    argv: list[str] = field(default_factory=list)
    notebook: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)  # lines for the task's console


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock (two agents sharing a workdir build one cache entry, not two)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _git(args: list[str], cwd: Path | None = None, timeout: float = 600) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    except FileNotFoundError as exc:
        raise CodeError("git is not installed on the agent's machine; the task's code is in a git repository") from exc
    except subprocess.TimeoutExpired as exc:
        raise CodeError(f"git {args[0]} took longer than {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise CodeError(f"git {' '.join(args[:2])} failed: {(done.stderr or done.stdout).strip()[-2000:]}")
    return done.stdout


def _inside(root: Path, relative: str, what: str) -> Path:
    """`root/relative`, refusing paths that climb out of the run folder."""
    path = (root / relative).resolve()
    if path != root.resolve() and root.resolve() not in path.parents:
        raise CodeError(f"the task's {what} {relative!r} points outside its code folder")
    return path


class CodeCache:
    """Bare mirrors of the repositories tasks came from, shared by every run of this workdir."""

    def __init__(self, root: Path):
        self.root = root

    def mirror(self, url: str, commit: str | None, notes: list[str]) -> Path:
        """A bare mirror of `url` that holds `commit` (cloned or fetched as needed)."""
        key = hashlib.sha256(url.encode()).hexdigest()[:16]
        path = self.root / f"{key}.git"
        with file_lock(self.root / f"{key}.lock"):
            if not (path / "HEAD").exists():
                notes.append(f"cloning {url}")
                _git(["clone", "--quiet", "--mirror", url, str(path)])
            elif commit and not self._has(path, commit):
                notes.append(f"fetching {url} (commit {commit[:12]} is new)")
                _git(["remote", "update", "--prune"], cwd=path)
            else:
                notes.append(f"repository {url} from the cache")
            if commit and not self._has(path, commit):
                raise CodeError(f"commit {commit} is not in {url} (was it pushed?)")
        return path

    @staticmethod
    def _has(path: Path, commit: str) -> bool:
        return subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=path,
                              capture_output=True).returncode == 0


def _checkout(script: dict[str, Any], dest: Path, cache: CodeCache, notes: list[str]) -> None:
    url, commit, branch = script["repository"], script.get("commit") or None, script.get("branch") or None
    mirror = cache.mirror(url, commit, notes)
    # --shared borrows the mirror's objects: a checkout costs the working files only.
    _git(["clone", "--quiet", "--shared", "--no-checkout", str(mirror), str(dest)])
    target = commit or (f"origin/{branch}" if branch and branch != "HEAD" else "HEAD")
    _git(["-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", target], cwd=dest)
    notes.append(f"checked out {target[:12] if commit else target}")
    diff = script.get("diff") or ""
    if diff.strip():
        patch = dest.parent / "uncommitted.diff"
        patch.write_text(diff if diff.endswith("\n") else diff + "\n")
        _git(["apply", "--whitespace=nowarn", str(patch)], cwd=dest)
        notes.append(f"applied the uncommitted changes ({diff.count(chr(10))} diff lines)")


def _notebook_json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise CodeError(f"the task's notebook snapshot is not JSON: {exc}") from exc
    if not isinstance(value, dict) or "cells" not in value:
        raise CodeError("the task's notebook snapshot is not an nbformat notebook (no cells)")
    return value


def materialise(task: dict[str, Any], run_dir: Path, cache: CodeCache) -> Code:
    """Write the task's code under `run_dir/code` and say how to run it.

    Raises:
        CodeError: the task holds no code, or it can't be fetched or applied.
    """
    script = task.get("script") or {}
    root = run_dir / "code"
    notes: list[str] = []
    notebook = script.get("notebook")
    entry_name = str(script.get("entry_point") or "")
    argv = [str(a) for a in (script.get("argv") or [])]
    if script.get("repository"):
        _checkout(script, root, cache, notes)
    else:
        root.mkdir(parents=True, exist_ok=True)
    working_dir = str(script.get("working_dir") or ".")
    if PurePosixPath(working_dir).is_absolute() or not script.get("repository"):
        working_dir = "."  # a stored file has no folder structure around it
    cwd = _inside(root, working_dir, "working_dir")
    cwd.mkdir(parents=True, exist_ok=True)
    if notebook:
        name = PurePosixPath(entry_name).name if entry_name.endswith(".ipynb") else "notebook.ipynb"
        return Code("notebook", root, cwd, cwd / name, [], _notebook_json(notebook), notes)
    if script.get("repository"):
        if not entry_name:
            raise CodeError("the task names a repository but no entry_point to run")
        entry = _inside(root, entry_name, "entry_point")
        if not entry.is_file():
            raise CodeError(f"the entry point {entry_name!r} is not in the checkout")
        return Code("script", root, cwd, entry, argv, None, notes)
    text = script.get("diff") or ""
    if not text.strip():
        raise CodeError("the task holds no code: no repository, no stored script (script.diff) and no notebook")
    if text.startswith("diff --git"):
        raise CodeError("the task holds an uncommitted diff but no repository to apply it to")
    entry = cwd / (PurePosixPath(entry_name).name or "script.py")
    entry.write_text(text)
    notes.append(f"stored script {entry.name} ({len(text.splitlines())} lines)")
    return Code("script", root, cwd, entry, argv, None, notes)
