"""`labtrack sync FOLDER`: upload offline sessions and spooled operations, idempotently.

Replaying is safe to repeat: the task is created once (its server id is remembered in
`synced.json`), event batches carry their batch ids (the server stores a batch once),
artifact uploads replace by key, patches replace what they name, and a status action that is
no longer possible is skipped.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from labtrack.sdk.client import ApiClient
from labtrack.sdk.errors import ApiError, LabtrackError, ServerUnreachable
from labtrack.sdk.spool import SessionFolder
from labtrack.sdk.transport import deliver_op


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


def sync_session(session: SessionFolder, client: ApiClient, deadline: float | None = None) -> dict[str, Any]:
    """Replay one session folder's operations in order; return a summary.

    With a `deadline` (time.monotonic()), stop there and mark the summary `"incomplete"`.

    Raises:
        ServerUnreachable: the server went away; progress so far is kept, run sync again.
    """
    meta = session.meta()
    state = session.sync_state()
    task_id = state.get("task_id") or meta.get("task_id")
    if not task_id:
        create = meta.get("create")
        if not create:
            raise LabtrackError(f"{session.root}/session.json names no task and no task to create")
        task_id = client.post("/tasks", json=create)["id"]
        state = {"task_id": task_id, "done": 0}
        session.save_sync_state(state)
    done = int(state.get("done", 0))
    sent = skipped = rejected = 0
    incomplete = False
    for seq, path in session.iter_ops():
        if deadline is not None and time.monotonic() > deadline:
            incomplete = True
            break
        if seq <= done:
            skipped += 1
            continue
        op = session.read_op(path)
        try:
            deliver_op(client, task_id, op, session.root)
            sent += 1
        except ApiError as exc:
            if exc.status >= 500:
                raise
            session.reject(seq, op, str(exc))
            rejected += 1
        state = {"task_id": task_id, "done": seq}
        session.save_sync_state(state)
        if not meta.get("offline"):
            # A spool of an online task: what is on the server needs no second copy here.
            path.unlink(missing_ok=True)
    return {"task_id": task_id, "sent": sent, "skipped": skipped, "rejected": rejected, "incomplete": incomplete}


def _summary_line(session: SessionFolder, summary: dict[str, Any]) -> str:
    return (f"{session.root}: task {summary['task_id']}: {summary['sent']} operation(s) sent, "
            f"{summary['skipped']} already synced, {summary['rejected']} refused")


def sync_all(root: Path) -> int:
    """`labtrack sync --all`: replay every spool folder under `root` whose owning process is gone."""
    from labtrack.sdk.orphans import find_orphans, replay_folder

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
        from labtrack.sdk.transport import spool_root

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
