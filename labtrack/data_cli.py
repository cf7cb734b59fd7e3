"""`labtrack data …`: dataset versions from the shell, like clearml-data.

`create` remembers the new draft's id in a small state file, so the following `add`, `remove`,
`sync`, `upload` and `close` work on it without `--id` (as clearml-data does); `close` uploads
what is missing and finalizes, then forgets the draft. Only argparse is imported at module level,
so `labtrack --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

_STATE_NAME = "data-cli.json"


def state_file() -> Path:
    """Where the current draft's id is kept between commands."""
    from labtrack import paths

    return paths.data_dir() / "datasets" / _STATE_NAME


def _remember(dataset_id: str | None) -> None:
    path = state_file()
    if dataset_id is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"dataset_id": dataset_id}))
    os.replace(tmp, path)


def _current_id(args: argparse.Namespace) -> str:
    from labtrack.sdk.dataset_files import DatasetError

    if getattr(args, "id", None):
        return str(args.id)
    try:
        return str(json.loads(state_file().read_text())["dataset_id"])
    except (OSError, ValueError, KeyError):
        raise DatasetError("No current dataset: pass --id, or start one with `labtrack data create`.") from None


def add_data_parser(sub: Any) -> None:
    """Add `data` and its subcommands to the top-level subparsers."""
    data = sub.add_parser("data", help="dataset versions: create, add, remove, upload, close, get, list, diff")
    data_sub = data.add_subparsers(dest="data_command", required=True)

    def command(name: str, text: str, with_id: bool = True) -> argparse.ArgumentParser:
        parser = data_sub.add_parser(name, help=text, description=text)
        if with_id:
            parser.add_argument("--id", help="dataset version id (default: the draft `create` started)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")
        return parser

    create = command("create", "start a draft version and make it the current one", with_id=False)
    create.add_argument("--project", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--version", help="default: the next after the highest (1.0.0 first)")
    create.add_argument("--parents", nargs="*", default=[], metavar="ID", help="final versions to start from")
    create.add_argument("--description", default="")

    add = command("add", "add files or folders to the draft (hashed here; bytes go up with upload/close)")
    add.add_argument("--files", nargs="+", required=True, metavar="PATH")
    add.add_argument("--wildcard", nargs="*", metavar="PATTERN", help="only names matching these (e.g. '*.png')")
    add.add_argument("--non-recursive", action="store_true", help="only the top level of folders")
    add.add_argument("--dataset-folder", default="", help="folder inside the dataset to put them under")

    remove = command("remove", "remove files from the draft by pattern or folder")
    remove.add_argument("--files", nargs="+", required=True, metavar="PATTERN")
    remove.add_argument("--non-recursive", action="store_true", help="a folder pattern does not take its subfolders")

    sync = command("sync", "make the draft match a local folder (adds, changes and removes)")
    sync.add_argument("--folder", required=True)
    sync.add_argument("--dataset-folder", default="")

    command("upload", "upload the bytes the server does not have yet (a rerun resumes)")
    command("close", "upload what is missing, then finalize the draft (immutable afterwards)")

    get = command("get", "a local copy of a version: read-only and cached, or writable with --copy")
    get.add_argument("--project")
    get.add_argument("--name")
    get.add_argument("--version")
    get.add_argument("--copy", metavar="FOLDER", help="a writable copy in this folder instead of the cache")
    get.add_argument("--overwrite", action="store_true", help="with --copy: replace what the folder holds")

    lister = command("list", "versions of a project/name, or with --id the files of one version")
    lister.add_argument("--project")
    lister.add_argument("--name")

    diff = command("diff", "what changed from --other to --id (added, removed, modified)")
    diff.add_argument("--other", required=True, help="the version to compare against (e.g. the parent)")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def _create(args: argparse.Namespace, client: Any) -> int:
    from labtrack.sdk.datasets import Dataset

    ds = Dataset.create(args.name, args.project, parent_datasets=args.parents or None, version=args.version,
                        description=args.description, client=client)
    _remember(ds.id)
    print(f"created {ds.project}/{ds.name} version {ds.version} (draft, {ds.file_count} files from parents)")
    print(ds.id)
    return 0


def _draft(args: argparse.Namespace, client: Any) -> Any:
    from labtrack.sdk.datasets import Dataset

    return Dataset.get(_current_id(args), client=client)


def _add(args: argparse.Namespace, client: Any) -> int:
    ds = _draft(args, client)
    count = sum(ds.add_files(path, wildcard=args.wildcard or None, recursive=not args.non_recursive,
                             dataset_path=args.dataset_folder, show_progress=not args.no_progress) for path in args.files)
    print(f"added {count} file(s); the draft has {ds.file_count} file(s), {_size(ds.total_size)}")
    return 0


def _remove(args: argparse.Namespace, client: Any) -> int:
    ds = _draft(args, client)
    count = sum(ds.remove_files(pattern, recursive=not args.non_recursive) for pattern in args.files)
    print(f"removed {count} file(s); the draft has {ds.file_count} file(s)")
    return 0


def _sync(args: argparse.Namespace, client: Any) -> int:
    ds = _draft(args, client)
    removed, added, modified = ds.sync_folder(args.folder, args.dataset_folder, show_progress=not args.no_progress)
    print(f"synced: {added} added, {modified} modified, {removed} removed")
    return 0


def _upload(args: argparse.Namespace, client: Any) -> int:
    report = _draft(args, client).upload(show_progress=not args.no_progress)
    print(f"uploaded {report['uploaded']} file content(s), {_size(report['bytes'])}")
    return 0


def _close(args: argparse.Namespace, client: Any) -> int:
    ds = _draft(args, client)
    report = ds.upload(show_progress=not args.no_progress)
    ds.finalize()
    if not getattr(args, "id", None) or args.id == _stored_id():
        _remember(None)
    print(f"uploaded {report['uploaded']} file content(s), {_size(report['bytes'])}; "
          f"{ds.project}/{ds.name} version {ds.version} is final ({ds.file_count} files, {_size(ds.total_size)})")
    print(ds.id)
    return 0


def _stored_id() -> str | None:
    try:
        return str(json.loads(state_file().read_text())["dataset_id"])
    except (OSError, ValueError, KeyError):
        return None


def _get(args: argparse.Namespace, client: Any) -> int:
    from labtrack.sdk.datasets import Dataset

    if args.id:
        ds = Dataset.get(args.id, client=client)
    else:
        if not args.name:
            from labtrack.sdk.dataset_files import DatasetError

            raise DatasetError("Say which version: --id, or --name (with --project, optionally --version).")
        ds = Dataset.get(dataset_project=args.project, dataset_name=args.name, version=args.version, client=client)
    if args.copy:
        print(ds.get_mutable_local_copy(args.copy, overwrite=args.overwrite, show_progress=not args.no_progress))
    else:
        print(ds.get_local_copy(show_progress=not args.no_progress))
    return 0


def _list(args: argparse.Namespace, client: Any) -> int:
    from labtrack.sdk.datasets import Dataset

    if args.id:
        ds = Dataset.get(args.id, client=client)
        for entry in sorted(ds.file_entries().values(), key=lambda e: e["path"]):
            print(f"{entry['sha256'][:12]}  {entry['size']:>12}  {entry['path']}")
        print(f"{ds.file_count} file(s), {_size(ds.total_size)}", file=sys.stderr)
        return 0
    rows = Dataset.list_datasets(args.project, client=client)
    if args.name:
        rows = [r for r in rows if r["name"] == args.name]
    print(f"{'id':32}  {'state':5}  {'version':10}  {'files':>7}  {'size':>9}  project/name")
    for r in rows:
        print(f"{r['id']:32}  {r['state']:5}  {r['version']:10}  {r['file_count']:>7}  {_size(r['total_size']):>9}  "
              f"{r['project']}/{r['name']}")
    return 0


def _diff(args: argparse.Namespace, client: Any) -> int:
    from labtrack.sdk.datasets import Dataset

    mine = Dataset.get(_current_id(args), client=client)
    other = Dataset.get(args.other, client=client)
    changes = mine.diff(other)
    for mark, paths in (("+", changes.added), ("-", changes.removed), ("M", changes.modified)):
        for path in paths:
            print(f"{mark} {path}")
    print(f"{len(changes.added)} added, {len(changes.removed)} removed, {len(changes.modified)} modified", file=sys.stderr)
    return 0


_COMMANDS: dict[str, Callable[[argparse.Namespace, Any], int]] = {
    "create": _create, "add": _add, "remove": _remove, "sync": _sync, "upload": _upload, "close": _close,
    "get": _get, "list": _list, "diff": _diff,
}


def data_command(args: argparse.Namespace) -> int:
    """Run one `labtrack data` subcommand; SDK errors become one line on stderr and exit code 1."""
    from labtrack.sdk.client import ApiClient
    from labtrack.sdk.errors import LabtrackError

    try:
        return _COMMANDS[args.data_command](args, ApiClient.from_environment())
    except LabtrackError as exc:
        print(f"labtrack data {args.data_command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"labtrack data {args.data_command}: interrupted (a draft keeps what was sent; rerun to resume)",
              file=sys.stderr)
        return 130
