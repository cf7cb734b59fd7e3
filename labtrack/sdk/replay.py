"""Replaying a session folder: the one code path of `labtrack sync`, `sync --all` and the Task.init sweep.

Replaying is safe to repeat: the task is created once (its server id is remembered in
`synced.json`), event batches carry their batch ids (the server stores a batch once),
artifact uploads replace by key, patches replace what they name, and a status action that is
no longer possible is skipped. An answer that means "later" (5xx, 429, …) is retried a few
times and then stops the replay with `ServerBusy`, progress kept; only an operation the server
refuses for what it is goes to `rejected/`. When the folder's owner died without ending its
task (kill -9 during an outage), the replay ends it: `failed`, reason "process died".
"""

from __future__ import annotations

import time
from typing import Any, Collection

from labtrack.sdk.client import ApiClient
from labtrack.sdk.errors import (
    ApiError, LabtrackError, NotFound, ServerBusy, already_applied, retry_later,
)
from labtrack.sdk.owners import owner_dead
from labtrack.sdk.spool import SessionFolder
from labtrack.sdk.transport import deliver_op, with_rejection_note

ATTEMPTS = 4  # tries of one operation answered "later" before the replay stops (run sync again)
MAX_WAIT = 30.0  # longest pause between two of them, whatever Retry-After says
DIED_REASON = "process died"


def _deliver_patiently(client: ApiClient, task_id: str, op: dict[str, Any], session: SessionFolder,
                       deadline: float | None) -> None:
    """`deliver_op`, waiting out short "later" answers (honouring Retry-After)."""
    for attempt in range(ATTEMPTS):
        try:
            deliver_op(client, task_id, op, session.root)
            return
        except ApiError as exc:
            if not retry_later(exc):
                raise
            last = exc
        wait = min(last.retry_after if last.retry_after is not None else 2.0 ** attempt, MAX_WAIT)
        if attempt == ATTEMPTS - 1 or (deadline is not None and time.monotonic() + wait > deadline):
            break
        time.sleep(wait)
    raise ServerBusy(f"the server at {client.url} cannot take data now ({last})")


def sync_session(session: SessionFolder, client: ApiClient, deadline: float | None = None,
                 live_task_ids: Collection[str] = ()) -> dict[str, Any]:
    """Replay one session folder's operations in order; return a summary.

    With a `deadline` (time.monotonic()), stop there and mark the summary `"incomplete"`.
    `live_task_ids` are tasks this process runs: never ended here, whatever the folder says.

    Raises:
        ServerUnreachable: the server went away or cannot take data now (`ServerBusy`); progress
            so far is kept, run sync again.
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
        try:
            op = session.read_op(path)
        except (OSError, ValueError) as exc:
            session.reject(seq, {"op": "unreadable", "file": str(path)}, f"could not be read back: {exc}")
            rejected += 1
        else:
            try:
                _deliver_patiently(client, task_id, with_rejection_note(op, session), session, deadline)
                sent += 1
            except ApiError as exc:
                if already_applied(exc):
                    sent += 1
                else:
                    session.reject(seq, op, str(exc), exc.answer())
                    rejected += 1
        state = {"task_id": task_id, "done": seq}
        session.save_sync_state(state)
        if not meta.get("offline"):
            # A spool of an online task: what is on the server needs no second copy here.
            path.unlink(missing_ok=True)
    ended = False
    if not incomplete and task_id not in live_task_ids:
        ended = end_if_owner_died(session, client, task_id)
    return {"task_id": task_id, "sent": sent, "skipped": skipped, "rejected": rejected,
            "incomplete": incomplete, "ended": ended}


def end_if_owner_died(session: SessionFolder, client: ApiClient, task_id: str) -> bool:
    """Fail the task, reason "process died", when the folder's owner is gone and left it running.

    Called once everything in the folder was replayed: a process that ended properly queued its
    final status last, so a task still `in_progress` now was never ended. Folders with no owner
    recorded (older ones) are left as they are: nobody can tell. True when the task was failed here.
    """
    owner = session.meta().get("owner")
    if not isinstance(owner, dict) or not owner_dead(owner):
        return False
    try:
        status = client.get(f"/tasks/{task_id}")["status"]
    except NotFound:
        return False
    if status != "in_progress":
        return False
    op = with_rejection_note({"op": "action", "action": "fail", "body": {
        "reason": DIED_REASON,
        "message": f"process {owner['pid']} ended without a status; its unsent data was replayed from {session.root}",
    }}, session)
    # As an operation: a task ended meanwhile (another replay, the server's watchdog) keeps its status.
    deliver_op(client, task_id, op)
    return True
