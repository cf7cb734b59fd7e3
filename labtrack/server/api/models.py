"""`/models` (the registry: create, list, get, patch, publish, delete, weights) and `/tasks/{id}/models`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from labtrack.server.api.common import ERRORS, Services, page, with_times
from labtrack.server.api.headers import content_disposition
from labtrack.server.api.streams import declared_size, iter_file
from labtrack.server.api.schemas import Text
from labtrack.server.api.model_schemas import (
    ModelCreate,
    ModelDetail,
    ModelList,
    ModelPatch,
    ModelSort,
    TaskModelLink,
    TaskModels,
)
from labtrack.server.errors import Invalid
from labtrack.server.services.models import ModelService
from labtrack.server.store.models import ModelFilter

router = APIRouter(tags=["models"], responses=ERRORS)
_TIMES = ("created", "last_update", "published_at")
_RAW_BODY = {
    "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
}
_BYTES: dict[int | str, dict[str, Any]] = {200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


def build_model_service(svc: Services) -> ModelService:
    """The model registry over the app's database, projects and artifact storage."""
    return ModelService(svc.db, svc.projects, svc.artifacts)


async def registry(request: Request) -> ModelService:
    """The app's model service (`create_app` puts it on app.state)."""
    return request.app.state.models


def _out(item: dict[str, Any]) -> dict[str, Any]:
    for user in item.get("used_by") or ():
        with_times(user, ("recorded",))
    return with_times(item, _TIMES)


def _csv(value: str | None, name: str, limit: int) -> list[str]:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    if len(items) > limit:
        raise Invalid(f"{name} takes at most {limit} values.", [{"loc": ["query", name], "msg": "too many"}])
    return items


@router.post("/models", response_model=ModelDetail, status_code=201)
def create_model(body: ModelCreate, request: Request, models: ModelService = Depends(registry)) -> dict:
    """Register a model (no weights yet); with `task_id` it is recorded as that task's output."""
    data = body.model_dump()
    data["metadata"] = {k: v.model_dump() for k, v in body.metadata.items()}
    return _out(models.create(getattr(request.state, "user", ""), data))


@router.get("/models", response_model=ModelList)
def list_models(
    project: Text | None = Query(None, max_length=1000, description="project name"),
    name: Text | None = Query(None, max_length=1000, description="exact model name"),
    search: Text | None = Query(None, max_length=1000, description="part of the name, any case"),
    tags: Text | None = Query(None, description="comma list; all must match"),
    framework: Text | None = Query(None, description="comma list; any may match"),
    published: bool | None = Query(None, description="only published (true) or unpublished (false) models"),
    task_id: str | None = Query(None, pattern=r"^[0-9a-f]{32}$", description="models made by this task"),
    sort: ModelSort = Query("-created", description="created, last_update or name; '-' for descending"),
    limit: int = Query(50, ge=1, le=1000),
    cursor: str | None = None,
    models: ModelService = Depends(registry),
) -> dict:
    """Models matching the filters, sorted, one page at a time."""
    flt = ModelFilter(name=name or None, search=search or None, tags=_csv(tags, "tags", 50),
                      frameworks=_csv(framework, "framework", 100) or None, published=published, task_id=task_id)
    items, next_cursor = models.query(flt, project or None, sort, limit, cursor)
    return page(items, next_cursor, _out)


@router.get("/models/{model_id}", response_model=ModelDetail)
def get_model(model_id: str, models: ModelService = Depends(registry)) -> dict:
    """One model with the task that made it (`task`) and the tasks that used it (`used_by`)."""
    return _out(models.get(model_id))


@router.patch("/models/{model_id}", response_model=ModelDetail)
def patch_model(model_id: str, body: ModelPatch, models: ModelService = Depends(registry)) -> dict:
    """Change fields; `metadata` merges by key. A published model takes only tags and comment (409 otherwise)."""
    changes = body.model_dump(exclude_unset=True)
    if body.metadata is not None:
        changes["metadata"] = {k: (v.model_dump() if v is not None else None) for k, v in body.metadata.items()}
    return _out(models.update(model_id, changes))


@router.post("/models/{model_id}/publish", response_model=ModelDetail)
def publish_model(model_id: str, models: ModelService = Depends(registry)) -> dict:
    """Make the model immutable (409 no_weights while it has none; publishing again changes nothing)."""
    return _out(models.publish(model_id))


@router.delete("/models/{model_id}", status_code=204, response_class=Response)
def delete_model(model_id: str, models: ModelService = Depends(registry)) -> Response:
    """Delete an unpublished model and its weights (409 model_published for a published one)."""
    models.delete(model_id)
    return Response(status_code=204)


@router.put("/models/{model_id}/weights", response_model=ModelDetail, openapi_extra=_RAW_BODY)
async def upload_weights(
    model_id: str,
    request: Request,
    filename: Annotated[Text, Query(max_length=1000)] = "",
    sha256: str | None = Query(None, pattern=r"^[0-9a-f]{64}$",
                               description="the bytes' sha256: checked before they are stored (422 hash_mismatch)"),
    models: ModelService = Depends(registry),
) -> dict:
    """Upload the weights (streamed); they replace the previous ones (409 model_published when published)."""
    model = await models.upload_weights(model_id, request.stream(), filename=filename,
                                        declared_size=declared_size(request), expected_sha256=sha256)
    return _out(model)


@router.get("/models/{model_id}/weights", responses=_BYTES, response_class=StreamingResponse)
async def download_weights(model_id: str, models: ModelService = Depends(registry)) -> StreamingResponse:
    """The weights' bytes, streamed, with their sha256 in `X-Labtrack-Sha256` (404 no_weights when none)."""
    model, handle = await run_in_threadpool(models.open_weights, model_id)
    # Always a download: a weights file is opaque bytes, whatever name it was uploaded under.
    headers = {"Content-Disposition": content_disposition("attachment", model["filename"] or "weights.bin")}
    headers["Content-Length"] = str(model["size"])
    headers["X-Labtrack-Sha256"] = model["sha256"]
    return StreamingResponse(iter_file(handle), media_type="application/octet-stream", headers=headers)


@router.post("/tasks/{task_id}/models", response_model=TaskModels, status_code=201)
def link_task_model(task_id: str, body: TaskModelLink, models: ModelService = Depends(registry)) -> dict:
    """Record a model as the task's input (it loaded it) or output (it made it)."""
    return _links(models.record_link(task_id, body.model_id, body.role, body.name))


@router.get("/tasks/{task_id}/models", response_model=TaskModels)
def task_models(task_id: str, models: ModelService = Depends(registry)) -> dict:
    """The task's input and output models."""
    return _links(models.task_models(task_id))


def _links(found: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {role: [with_times(m, (*_TIMES, "recorded")) for m in items] for role, items in found.items()}
