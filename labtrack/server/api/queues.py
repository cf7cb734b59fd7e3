"""`/queues`: queues, their entries (enqueue, reorder, remove) and the long-polling pop."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from labtrack.server.api.common import ERRORS, Services, with_times
from labtrack.server.api.schemas import Text
from labtrack.server.api.queue_schemas import (
    Entry, EntryCreate, EntryList, EntryPatch, PopRequest, PopResult, Queue, QueueCreate, QueueList,
)
from labtrack.server.services.queues import QUEUE_NAME_PATTERN, QueueService, QueueSignal
from labtrack.server.services.workers import WorkerService

router = APIRouter(prefix="/queues", tags=["queues"], responses=ERRORS)
QUEUE = Path(description="the queue's id or name", min_length=1, max_length=64, pattern=QUEUE_NAME_PATTERN)
TASK_ID = Path(pattern=r"^[0-9a-f]{32}$")
# A waiting pop re-checks the database this often, for enqueues made by other server processes
# (enqueues in this process wake it at once), and renews the worker's heartbeat at least this often
# (more often under a short worker timeout), so a worker waiting on an empty queue is never "lost".
RECHECK_SECONDS = 0.5
TOUCH_SECONDS = 5.0


def build_queue_service(svc: Services) -> QueueService:
    """The queue service over the app's database; enqueues through the task service wake its pops."""
    signal = QueueSignal()
    svc.tasks.on_enqueue = signal.notify
    queues = QueueService(svc.db, svc.tasks, signal)
    queues.ensure_default()
    return queues


async def queue_service(request: Request) -> QueueService:
    """The app's queue service (`create_app` puts it on app.state)."""
    return request.app.state.queues


async def worker_service(request: Request) -> WorkerService:
    """The app's worker service (`create_app` puts it on app.state)."""
    return request.app.state.workers


def queue_out(queue: dict[str, Any]) -> dict[str, Any]:
    return with_times(queue, ("created",))


def entry_out(entry: dict[str, Any]) -> dict[str, Any]:
    return with_times(entry, ("enqueued",))


@router.post("", response_model=Queue, status_code=201)
def create_queue(body: QueueCreate, queues: QueueService = Depends(queue_service)) -> dict:
    """Create an empty queue (409 when the name exists)."""
    return queue_out(queues.create(body.name, body.description))


@router.get("", response_model=QueueList)
def list_queues(
    name: Text | None = Query(None, max_length=64, description="exact queue name"),
    limit: int = Query(1000, ge=1, le=1000),
    cursor: str | None = None,
    queues: QueueService = Depends(queue_service),
) -> dict:
    """Queues sorted by name, with pending counts and the active workers serving each."""
    items, next_cursor = queues.list_queues(name or None, limit, cursor)
    return {"items": [queue_out(q) for q in items], "next_cursor": next_cursor}


@router.post("/pop", response_model=PopResult, responses={204: {"description": "No task came within `wait` seconds."}})
async def pop_task(
    body: PopRequest, request: Request,
    queues: QueueService = Depends(queue_service), workers: WorkerService = Depends(worker_service),
) -> Any:
    """Give the worker the next task of the first non-empty queue (in the order given), waiting up to
    `wait` seconds for one; 204 when none came. The task becomes in_progress on that worker."""
    queue_ids = await run_in_threadpool(queues.resolve_ids, body.queues)
    deadline = time.monotonic() + body.wait
    touched = time.monotonic()
    touch_every = min(TOUCH_SECONDS, request.app.state.services.settings.worker_timeout / 3)
    seen = queues.signal.generation
    result = await run_in_threadpool(queues.pop, queue_ids, body.worker)  # also checks the worker (409)
    while result is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or queues.signal.closed:  # closed: the server is stopping, don't hold it up
            return Response(status_code=204)
        # Sleeps on the event loop (no thread held) until an enqueue here, or the re-check time.
        await queues.signal.wait(seen, min(remaining, RECHECK_SECONDS))
        if queues.signal.closed or await request.is_disconnected():  # stopping, or the agent went away
            return Response(status_code=204)
        if time.monotonic() - touched > touch_every:
            touched = time.monotonic()
            await run_in_threadpool(workers.touch, body.worker)
        seen = queues.signal.generation
        # A read first: waiters woken by an enqueue into another queue take no write lock.
        if await run_in_threadpool(queues.has_pending, queue_ids):
            result = await run_in_threadpool(queues.pop, queue_ids, body.worker)
    with_times(result["task"])
    queue_out(result["queue"])
    return result


@router.api_route("/pop", methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def pop_other_methods() -> None:
    """`/queues/pop` is POST only: without this, GET and DELETE would reach `/queues/{queue}` (a 404)."""
    raise StarletteHTTPException(405, headers={"Allow": "POST"})


@router.get("/{queue}", response_model=Queue)
def get_queue(queue: str = QUEUE, queues: QueueService = Depends(queue_service)) -> dict:
    """A queue by id or name."""
    return queue_out(queues.get(queue))


@router.delete("/{queue}", status_code=204, response_class=Response)
def delete_queue(
    queue: str = QUEUE,
    force: bool = Query(False, description="delete a non-empty queue: its tasks go back to created"),
    queues: QueueService = Depends(queue_service),
) -> Response:
    """Delete an empty queue (409 when it holds tasks, unless force; `default` never)."""
    queues.delete(queue, force)
    return Response(status_code=204)


@router.get("/{queue}/entries", response_model=EntryList)
def list_entries(
    queue: str = QUEUE,
    limit: int = Query(1000, ge=1, le=1000),
    cursor: str | None = None,
    queues: QueueService = Depends(queue_service),
) -> dict:
    """The queue's waiting tasks in pop order: higher priority first, then first in, first out."""
    items, next_cursor = queues.entries(queue, limit, cursor)
    return {"items": [entry_out(e) for e in items], "next_cursor": next_cursor}


@router.post("/{queue}/entries", response_model=Entry, status_code=201)
def add_entry(body: EntryCreate, queue: str = QUEUE, queues: QueueService = Depends(queue_service)) -> dict:
    """Enqueue a task (created, stopped or failed; 409 naming its status otherwise)."""
    return entry_out(queues.add(queue, body.task_id, body.priority))


@router.patch("/{queue}/entries/{task_id}", response_model=Entry)
def move_entry(body: EntryPatch, queue: str = QUEUE, task_id: str = TASK_ID,
               queues: QueueService = Depends(queue_service)) -> dict:
    """Change an entry's priority and/or move it to the top, the bottom or an index in pop order."""
    return entry_out(queues.move(queue, task_id, body.priority, body.position))


@router.delete("/{queue}/entries/{task_id}", status_code=204, response_class=Response)
def remove_entry(queue: str = QUEUE, task_id: str = TASK_ID, queues: QueueService = Depends(queue_service)) -> Response:
    """Take a task out of the queue; it goes back to created."""
    queues.remove(queue, task_id)
    return Response(status_code=204)
