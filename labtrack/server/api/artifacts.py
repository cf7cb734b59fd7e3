"""Artifacts (`/tasks/{id}/artifacts`) and media (`/tasks/{id}/media`): streamed in and out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from labtrack.server.api.common import ERRORS, Services, page, services, with_times
from labtrack.server.api.headers import INLINE_IMAGE_TYPES, SAFE_TYPE, download_headers
from labtrack.server.api.schemas import (
    ARTIFACT_KEY, MEDIA_NAME, Artifact, ArtifactList, ArtifactPatch, ArtifactRegister, MediaStored, Text,
)
from labtrack.server.api.streams import declared_size, iter_file, require_body

router = APIRouter(tags=["artifacts"], responses=ERRORS)
_RAW_BODY = {
    "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
}
# Stored bytes come back as one of the raster image types the UI shows, or as opaque bytes.
_BYTES: dict[int | str, dict[str, Any]] = {200: {"content": {
    kind: {"schema": {"type": "string", "format": "binary"}} for kind in (SAFE_TYPE, *sorted(set(INLINE_IMAGE_TYPES.values())))
}}}


# Checked by the storage layer (its message says what to fix); stated here for the document.
KEY = Path(json_schema_extra=ARTIFACT_KEY, description="1-128 of A-Z a-z 0-9 . _ -, not starting with '.'")
_MEDIA = Path(json_schema_extra=MEDIA_NAME, description="the name in the uri the media upload returned")


@router.put("/tasks/{task_id}/artifacts/{key}", response_model=Artifact, status_code=201, openapi_extra=_RAW_BODY)
async def upload_artifact(
    task_id: str,
    request: Request,
    key: str = KEY,
    type: Annotated[Text, Query(max_length=100)] = "",
    filename: Annotated[Text, Query(max_length=1000)] = "",
    svc: Services = Depends(services),
) -> dict:
    """Upload bytes (streamed; sha256 and size recorded); re-uploading a key replaces it."""
    require_body(request)
    artifact = await svc.artifacts.upload(
        task_id, key, request.stream(), type_=type, filename=filename, declared_size=declared_size(request)
    )
    return with_times(artifact, ("created",))


@router.post("/tasks/{task_id}/artifacts", response_model=Artifact, status_code=201)
def register_artifact(task_id: str, body: ArtifactRegister, svc: Services = Depends(services)) -> dict:
    """Register an artifact that lives at an external URI (nothing is uploaded)."""
    return with_times(svc.artifacts.register(task_id, body.model_dump()), ("created",))


@router.get("/tasks/{task_id}/artifacts", response_model=ArtifactList)
def list_artifacts(
    task_id: str, limit: int = Query(100, ge=1, le=1000), cursor: str | None = None, svc: Services = Depends(services)
) -> dict:
    """A task's artifacts by key."""
    items, next_cursor = svc.artifacts.list(task_id, limit, cursor)
    return page(items, next_cursor, lambda a: with_times(a, ("created",)))


@router.get("/tasks/{task_id}/artifacts/{key}", response_model=Artifact)
def get_artifact(task_id: str, key: str = KEY, *, svc: Services = Depends(services)) -> dict:
    """One artifact's record."""
    return with_times(svc.artifacts.get(task_id, key), ("created",))


@router.patch("/tasks/{task_id}/artifacts/{key}", response_model=Artifact)
def patch_artifact(task_id: str, body: ArtifactPatch, key: str = KEY, svc: Services = Depends(services)) -> dict:
    """Change an artifact's preview or metadata."""
    return with_times(svc.artifacts.patch(task_id, key, body.preview, body.metadata), ("created",))


@router.get("/tasks/{task_id}/artifacts/{key}/content", responses=_BYTES, response_class=StreamingResponse)
async def download_artifact(task_id: str, key: str = KEY, *, svc: Services = Depends(services)) -> StreamingResponse:
    """The artifact's bytes, streamed (409 for an external URI)."""
    artifact, handle = await run_in_threadpool(svc.artifacts.open_content, task_id, key)
    media_type, headers = download_headers(artifact["filename"] or key)
    if artifact["size"] is not None:
        headers["Content-Length"] = str(artifact["size"])
    if artifact["sha256"]:
        headers["X-Labtrack-Sha256"] = artifact["sha256"]
    return StreamingResponse(iter_file(handle), media_type=media_type, headers=headers)


@router.delete("/tasks/{task_id}/artifacts/{key}", status_code=204, response_class=Response)
def delete_artifact(task_id: str, key: str = KEY, *, svc: Services = Depends(services)) -> Response:
    """Delete an artifact and its stored bytes."""
    svc.artifacts.delete(task_id, key)
    return Response(status_code=204)


@router.post("/tasks/{task_id}/media", response_model=MediaStored, status_code=201, openapi_extra=_RAW_BODY)
async def upload_media(
    task_id: str, request: Request, filename: str = Query("", max_length=1000), svc: Services = Depends(services)
) -> dict:
    """Store an image for an image event; returns `{"uri": "media/<sha256>.<ext>"}`."""
    require_body(request)
    return await svc.artifacts.upload_media(task_id, filename, request.stream(), declared_size(request))


@router.get("/tasks/{task_id}/media/{name}", responses=_BYTES, response_class=StreamingResponse)
async def get_media(task_id: str, name: str = _MEDIA, *, svc: Services = Depends(services)) -> StreamingResponse:
    """A stored media file: raster images inline, anything else as an attachment (never as a page)."""
    handle = await run_in_threadpool(svc.artifacts.open_media, task_id, name)
    media_type, headers = download_headers(name)
    headers["Cache-Control"] = "private, max-age=86400"
    return StreamingResponse(iter_file(handle), media_type=media_type, headers=headers)
