"""`labtrack sync FOLDER` and `labtrack sync --all`: upload offline sessions and spooled operations.

The command line's side only: finding folders, choosing the server, printing one line per
folder. The replay itself (idempotent, safe to repeat) is `replay.sync_session`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from labtrack.sdk.client import ApiClient
from labtrack.sdk.errors import LabtrackError, ServerUnreachable
from labtrack.sdk.orphans import find_orphans, replay_folder
from labtrack.sdk.replay import sync_session
from labtrack.sdk.spool import SessionFolder, spool_root

__all__ = ["find_sessions", "sync_all", "sync_command", "sync_session"]


def find_sessions(folder: Path) -> list[SessionFolder]:
    """The session folder itself, or every session folder directly inside it."""
    if (folder / "session.json").is_file():
        return [SessionFolder(folder)]
    return [SessionFolder(p) for p in sorted(folder.iterdir()) if (p / "session.json").is_file()]


def _client_for(session: SessionFolder) -> ApiClient:
    from labtrack import paths

    meta = session.meta()
    if not os.environ.get("LABTRACK_API_URL") and not paths.read_config().get("api_url") and meta.get("api_url"):
        return ApiClient.from_environment(url=meta["api_url"])
    return ApiClient.from_environment()


def _summary_line(session: SessionFolder, summary: dict[str, Any]) -> str:
    line = (f"{session.root}: task {summary['task_id']}: {summary['sent']} operation(s) sent, "
            f"{summary['skipped']} already synced, {summary['rejected']} refused")
    if summary.get("ended"):
        line += "; its process died without ending it: task marked failed"
    return line


def sync_all(root: Path) -> int:
    """`labtrack sync --all`: replay every spool folder under `root` whose owning process is gone."""
    orphans = find_orphans(root, require_owner=False)
    if not orphans:
        print(f"labtrack sync: nothing to replay in {root} (no folders left by processes that ended)")
        return 0
    status = 0
    for session in orphans:
        try:
            summary = replay_folder(session, _client_for(session))
        except ServerUnreachable as exc:
            print(f"labtrack sync: {exc}. Nothing is lost; run the same command again later.", file=sys.stderr)
            return 1
        except (LabtrackError, OSError, ValueError) as exc:
            print(f"labtrack sync: {session.root}: {exc}", file=sys.stderr)
            status = 1
            continue
        if summary is None:
            print(f"{session.root}: another process is replaying it; skipped")
            continue
        where = "folder removed" if summary["removed"] else f"refused operations kept in {session.rejected_dir}"
        print(f"{_summary_line(session, summary)}; {where}")
        status = status or (1 if summary["rejected"] else 0)
    return status


def sync_command(args: argparse.Namespace) -> int:
    """Entry point of `labtrack sync FOLDER` and `labtrack sync --all [ROOT]` (exit code 0 on success)."""
    if getattr(args, "all", False):
        return sync_all(Path(args.folder).expanduser() if args.folder else spool_root())
    if not args.folder:
        print("labtrack sync: pass a session folder, or --all to replay what ended processes left "
              "unsent", file=sys.stderr)
        return 2
    folder = Path(args.folder).expanduser()
    if not folder.is_dir():
        print(f"labtrack sync: {folder} is not a folder; pass an offline session folder "
              "(printed when the offline task closed)", file=sys.stderr)
        return 2
    sessions = find_sessions(folder)
    if not sessions:
        print(f"labtrack sync: {folder} holds no session.json; it is not a labtrack session folder",
              file=sys.stderr)
        return 2
    status = 0
    for session in sessions:
        try:
            summary = sync_session(session, _client_for(session))
        except ServerUnreachable as exc:
            print(f"labtrack sync: {exc}. Nothing is lost; run the same command again later.", file=sys.stderr)
            return 1
        except LabtrackError as exc:
            print(f"labtrack sync: {session.root}: {exc}", file=sys.stderr)
            status = 1
            continue
        print(_summary_line(session, summary))
    return status
