"""Replay spool folders left behind by processes that died (kill -9, OOM, reboot) while the server was down.

Every online spool folder records its owner (pid + the process's start time, so a reused pid
is not taken for the owner). A folder whose owner is gone is an *orphan*: `Task.init` replays
orphans in a background daemon thread, and `labtrack sync --all` does so by hand. A per-folder
`flock` keeps two processes from replaying the same folder at once (the kernel drops it when
the holder dies), and the replay is `labtrack sync`'s own idempotent code path (batch ids), so
a replay cut short and run again stores nothing twice. A task whose owner died without ending it
is ended by the replay (`failed`, "process died"; see `replay.py`).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Collection, Iterator

from labtrack.sdk.client import ApiClient
from labtrack.sdk.errors import LabtrackError, ServerUnreachable
from labtrack.sdk.notices import warn
from labtrack.sdk.owners import owner_alive, owner_marker
from labtrack.sdk.replay import sync_session
from labtrack.sdk.spool import SessionFolder, spool_root

__all__ = ["find_orphans", "folder_lock", "owner_alive", "owner_marker", "remove_folder", "replay_folder",
           "start_background_sweep", "sweep", "wait_for_sweep"]

MAX_FOLDERS = 50  # folders looked at per sweep: bounded work on a machine with a long history
SWEEP_SECONDS = 120.0  # time budget of one automatic sweep; the rest waits for the next Task.init
LOCK_NAME = ".replay.lock"
_sweep_thread: threading.Thread | None = None


def find_orphans(root: Path, require_owner: bool = True, api_url: str | None = None) -> list[SessionFolder]:
    """Session folders under `root` whose owning process is gone (oldest first, at most MAX_FOLDERS).

    Folders without an owner record (written before owners were recorded) count as orphans only
    when `require_owner` is False, i.e. when a person asked (`labtrack sync --all`). With
    `api_url`, only folders bound for that server count.
    """
    if not root.is_dir():
        return []
    found = []
    candidates = [p for p in root.iterdir() if not p.name.startswith(".") and (p / "session.json").is_file()]
    for path in sorted(candidates, key=_mtime):
        session = SessionFolder(path)
        meta = session.meta()
        if meta.get("offline"):
            continue  # offline sessions are a person's to sync, wherever they are kept
        if api_url is not None and str(meta.get("api_url") or "").rstrip("/") != api_url.rstrip("/"):
            continue  # another server's data: only that server may receive it
        if "owner" not in meta:
            if require_owner:
                continue
        elif owner_alive(meta["owner"]):
            continue
        if session.sync_state().get("finished") and session.pending_count() == 0:
            continue  # replayed already; only refused operations are left for a person
        found.append(session)
        if len(found) >= MAX_FOLDERS:
            break
    return found


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@contextmanager
def folder_lock(session: SessionFolder) -> Iterator[bool]:
    """Hold the folder's replay lock while the block runs; yields False when another process holds it."""
    import fcntl

    try:
        fd = os.open(session.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:  # the folder was just replayed and removed by someone else
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        # Re-check under the lock: the holder before us may have finished and removed it.
        yield session.exists()
    finally:
        os.close(fd)


def remove_folder(session: SessionFolder) -> None:
    """Remove a replayed folder; renaming it first means no other process can lock and replay it half-deleted."""
    grave = session.root.with_name(f".removed-{session.root.name}-{uuid.uuid4().hex[:6]}")
    try:
        os.replace(session.root, grave)
    except OSError:
        return
    shutil.rmtree(grave, ignore_errors=True)


def replay_folder(session: SessionFolder, client: ApiClient, deadline: float | None = None,
                  live_task_ids: Collection[str] = ()) -> dict[str, Any] | None:
    """Replay one orphan under its lock; remove it once the server acknowledged everything.

    Returns the sync summary (plus `"removed"`), or `None` when another process holds the folder.
    Raises `ServerUnreachable` when the server went away or cannot take data now (progress so far
    is kept).
    """
    with folder_lock(session) as locked:
        if not locked:
            return None
        summary = sync_session(session, client, deadline=deadline, live_task_ids=live_task_ids)
        complete = not summary.get("incomplete") and session.pending_count() == 0
        summary["removed"] = False
        if complete and not session.rejected_dir.exists():
            remove_folder(session)
            summary["removed"] = True
        elif complete:
            # Refused operations stay in rejected/ for a person; do not replay or report it again.
            session.save_sync_state({**session.sync_state(), "finished": True})
        return summary


def sweep(root: Path, client: ApiClient, say: Callable[[str], None], seconds: float = SWEEP_SECONDS,
          live_task_ids: Collection[str] = ()) -> list[dict]:
    """Replay the orphans under `root` that were bound for `client`'s server; bounded in folders and time.

    `live_task_ids`: tasks this process runs (e.g. the one it just attached to): replayed, never ended.
    """
    deadline = time.monotonic() + seconds
    results = []
    for leftover in root.glob(".removed-*") if root.is_dir() else []:
        shutil.rmtree(leftover, ignore_errors=True)  # a removal cut short by a dying process
    for session in find_orphans(root, api_url=client.url):
        if time.monotonic() > deadline:
            break
        try:
            summary = replay_folder(session, client, deadline, live_task_ids)
        except ServerUnreachable as exc:
            say(f"labtrack: could not replay data left by an earlier run in {session.root} ({exc}); "
                f"it is kept there. Upload it later with: labtrack sync --all")
            break  # the server is down: the other folders would fail the same way
        except (LabtrackError, OSError, ValueError) as exc:
            say(f"labtrack: could not replay data left by an earlier run in {session.root} ({exc}); "
                f"it is kept there. Upload it later with: labtrack sync {session.root}")
            continue
        if summary is None:
            continue
        results.append(summary)
        if summary["rejected"]:
            say(f"labtrack: replayed data left by an earlier run of task {summary['task_id']}; the server "
                f"refused {summary['rejected']} operation(s), kept in {session.root / 'rejected'}")
        elif summary["sent"] and summary["removed"]:
            say(f"labtrack: replayed {summary['sent']} operation(s) left unsent by an earlier run of task "
                f"{summary['task_id']} (from {session.root})")
        if summary.get("ended"):
            say(f"labtrack: task {summary['task_id']} marked failed: its process died before ending it")
    return results


def start_background_sweep(client: ApiClient, live_task_ids: Collection[str] = ()) -> threading.Thread | None:
    """Start the automatic orphan replay in a daemon thread (off with LABTRACK_REPLAY_ORPHANS=0)."""
    global _sweep_thread
    if os.environ.get("LABTRACK_REPLAY_ORPHANS", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    if _sweep_thread is not None and _sweep_thread.is_alive():
        return _sweep_thread
    live = frozenset(live_task_ids)

    def run() -> None:
        try:
            sweep(spool_root(), ApiClient(client.url, client.api_key), warn, live_task_ids=live)
        except Exception as exc:  # never let a sweep problem reach the user's run
            warn(f"labtrack: replaying data left by earlier runs failed ({type(exc).__name__}: {exc}); "
                  "run `labtrack sync --all` by hand")

    _sweep_thread = threading.Thread(target=run, name="labtrack-orphan-replay", daemon=True)
    _sweep_thread.start()
    return _sweep_thread


def wait_for_sweep(timeout: float | None = None) -> bool:
    """Wait for the automatic sweep started by `Task.init`; True when none runs any more."""
    thread = _sweep_thread
    if thread is not None:
        thread.join(timeout)
        return not thread.is_alive()
    return True
