"""`/workers`: agents register, heartbeat (and hear about stop requests), unregister; lists."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from labtrack.server.api.common import ERRORS, with_times
from labtrack.server.api.queue_schemas import HeartbeatAnswer, Worker, WorkerHeartbeat, WorkerList, WorkerRegister
from labtrack.server.api.queues import worker_service
from labtrack.server.services.workers import WorkerService

router = APIRouter(prefix="/workers", tags=["workers"], responses=ERRORS)
WORKER_ID = Path(pattern=r"^[0-9a-f]{32}$")


def worker_out(worker: dict[str, Any]) -> dict[str, Any]:
    return with_times(worker, ("registered", "last_heartbeat"))


@router.post("", response_model=Worker, status_code=201)
def register_worker(body: WorkerRegister, request: Request, workers: WorkerService = Depends(worker_service)) -> dict:
    """Register an agent's worker (409 when an active worker has the name, unless `replace`)."""
    resources = body.resources.model_dump(exclude_none=True)
    return worker_out(workers.register(request.state.user, body.name, body.queues, resources, body.replace))


@router.get("", response_model=WorkerList)
def list_workers(
    status: Literal["active", "gone", "all"] = Query("active"),
    limit: int = Query(1000, ge=1, le=1000),
    cursor: str | None = None,
    workers: WorkerService = Depends(worker_service),
) -> dict:
    """Workers sorted by name: active ones by default."""
    items, next_cursor = workers.list_workers(status, limit, cursor)
    return {"items": [worker_out(w) for w in items], "next_cursor": next_cursor}


@router.get("/{worker_id}", response_model=Worker)
def get_worker(worker_id: str = WORKER_ID, workers: WorkerService = Depends(worker_service)) -> dict:
    """One worker, active or gone."""
    return worker_out(workers.get(worker_id))


@router.delete("/{worker_id}", status_code=204, response_class=Response)
def unregister_worker(worker_id: str = WORKER_ID, workers: WorkerService = Depends(worker_service)) -> Response:
    """Unregister: the worker is gone and a task still running on it fails ("worker lost")."""
    workers.unregister(worker_id)
    return Response(status_code=204)


@router.post("/{worker_id}/heartbeat", response_model=HeartbeatAnswer)
def worker_heartbeat(worker_id: str = WORKER_ID, body: WorkerHeartbeat | None = None,
                     workers: WorkerService = Depends(worker_service)) -> dict:
    """Record contact, the current task and usage; answers whether that task should stop (409 when gone)."""
    beat = body or WorkerHeartbeat()
    usage = beat.usage.model_dump(exclude_none=True) if beat.usage is not None else None
    return workers.heartbeat(worker_id, beat.task_id, usage)
