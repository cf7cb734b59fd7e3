"""`/datasets` (versions, manifests, lineage), `/blobs/{sha256}` (file bytes) and `/tasks/{id}/datasets`."""

from __future__ import annotations

from typing import Any, Iterator

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from labtrack.server.api.common import ERRORS, Services, page, with_times
from labtrack.server.api.schemas import PROJECT_NAME, Text
from labtrack.server.api.streams import iter_file, require_body
from labtrack.server.api.dataset_schemas import (
    BlobBatchResult,
    BlobDownload,
    BlobStored,
    Dataset,
    DatasetCreate,
    DatasetList,
    DatasetPatch,
    DatasetState,
    DatasetUserList,
    FileChangeResult,
    FileChanges,
    FileList,
    Lineage,
    MissingList,
    TaskInput,
    TaskInputCreate,
    TaskInputList,
)
from labtrack.server.services.datasets import MAX_BATCH, DatasetService
from labtrack.server.storage.blobs import BlobStore

router = APIRouter(tags=["datasets"], responses=ERRORS)
_TIMES = ("created", "finalized")
_RAW_BODY = {
    "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
}
SHA256_PATH = Path(pattern=r"^[0-9a-f]{64}$", description="lowercase hex sha256 of the bytes")
_BYTES: dict[int | str, dict[str, Any]] = {200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


def build_dataset_service(svc: Services) -> DatasetService:
    """The dataset service over the app's database, projects and artifact byte store."""
    return DatasetService(svc.db, svc.projects, BlobStore(svc.artifacts.storage, svc.settings.max_artifact_bytes))


async def datasets(request: Request) -> DatasetService:
    """The app's dataset service (`create_app` puts it on app.state)."""
    return request.app.state.datasets


def _out(item: dict[str, Any]) -> dict[str, Any]:
    return with_times(item, _TIMES)


@router.post("/datasets", response_model=Dataset, status_code=201)
def create_dataset(body: DatasetCreate, request: Request, ds: DatasetService = Depends(datasets)) -> dict:
    """Create a draft version (its parents' files already in its manifest)."""
    return _out(ds.create(user=getattr(request.state, "user", ""), project=body.project, name=body.name,
                          version=body.version, description=body.description, parents=body.parents))


@router.get("/datasets", response_model=DatasetList)
def list_datasets(
    project: str | None = Query(None, max_length=1000, json_schema_extra=PROJECT_NAME),
    name: Text | None = Query(None, max_length=1000),
    version: Text | None = Query(None, max_length=100),
    state: DatasetState | None = None,
    search: Text | None = Query(None, max_length=1000, description="part of the name, any case"),
    limit: int = Query(50, ge=1, le=1000),
    cursor: str | None = None,
    ds: DatasetService = Depends(datasets),
) -> dict:
    """Versions, newest first; `?project=&name=&state=final&limit=1` is the latest final version."""
    items, next_cursor = ds.list_versions(project=project, name=name, version=version, state=state, search=search,
                                 limit=limit, cursor=cursor)
    return page(items, next_cursor, _out)


@router.get("/datasets/{dataset_id}", response_model=Dataset)
def get_dataset(dataset_id: str, ds: DatasetService = Depends(datasets)) -> dict:
    """One version."""
    return _out(ds.get(dataset_id))


@router.patch("/datasets/{dataset_id}", response_model=Dataset)
def patch_dataset(dataset_id: str, body: DatasetPatch, ds: DatasetService = Depends(datasets)) -> dict:
    """Change a version's description."""
    return _out(ds.update(dataset_id, body.description))


@router.delete("/datasets/{dataset_id}", status_code=204, response_class=Response)
def delete_dataset(dataset_id: str, ds: DatasetService = Depends(datasets)) -> Response:
    """Delete a version that no other version descends from (409 not_empty otherwise)."""
    ds.delete(dataset_id)
    return Response(status_code=204)


@router.post("/datasets/{dataset_id}/files", response_model=FileChangeResult)
def change_files(dataset_id: str, body: FileChanges, ds: DatasetService = Depends(datasets)) -> dict:
    """Add/replace and remove manifest entries of a draft (409 dataset_final on a final version).

    The answer's `missing` lists the added hashes the server has no bytes for: upload only those.
    """
    return ds.change_files(dataset_id, [e.model_dump() for e in body.add], body.remove)


@router.get("/datasets/{dataset_id}/files", response_model=FileList)
def list_files(
    dataset_id: str,
    prefix: Text | None = Query(None, max_length=1024, description="only paths starting with this"),
    limit: int = Query(1000, ge=1, le=MAX_BATCH),
    cursor: str | None = None,
    ds: DatasetService = Depends(datasets),
) -> dict:
    """A page of the manifest, by path."""
    return page(*ds.files(dataset_id, limit, cursor, prefix))


@router.get("/datasets/{dataset_id}/missing", response_model=MissingList)
def list_missing(
    dataset_id: str, limit: int = Query(1000, ge=1, le=MAX_BATCH), cursor: str | None = None,
    ds: DatasetService = Depends(datasets),
) -> dict:
    """Hashes the manifest names whose bytes are not uploaded yet (what an upload still has to send)."""
    return page(*ds.missing(dataset_id, limit, cursor))


@router.post("/datasets/{dataset_id}/finalize", response_model=Dataset)
def finalize_dataset(dataset_id: str, ds: DatasetService = Depends(datasets)) -> dict:
    """Make a draft final (409 upload_incomplete while bytes are missing, 409 dataset_final when already final)."""
    return _out(ds.finalize(dataset_id))


@router.get("/datasets/{dataset_id}/lineage", response_model=Lineage)
def lineage(dataset_id: str, ds: DatasetService = Depends(datasets)) -> dict:
    """This version and its ancestors, nearest first."""
    return {"items": [_out(i) for i in ds.lineage(dataset_id)]}


@router.get("/datasets/{dataset_id}/tasks", response_model=DatasetUserList)
def dataset_users(dataset_id: str, limit: int = Query(100, ge=1, le=1000), ds: DatasetService = Depends(datasets)) -> dict:
    """Tasks that recorded this version as an input, newest first."""
    return {"items": [with_times(u, ("recorded",)) for u in ds.users(dataset_id, limit)]}


@router.api_route("/blobs/download", methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def blobs_download_other_methods() -> None:
    """`/blobs/download` is POST only: without this, PUT and GET would reach `/blobs/{sha256}` (a 422)."""
    raise StarletteHTTPException(405, headers={"Allow": "POST"})


@router.put("/blobs/{sha256}", response_model=BlobStored, status_code=201, openapi_extra=_RAW_BODY)
async def put_blob(request: Request, response: Response, sha256: str = SHA256_PATH,
                   ds: DatasetService = Depends(datasets)) -> dict:
    """Upload one file's bytes, streamed; stored only if they hash to `sha256` (422 hash_mismatch otherwise).

    The hash must be named by some draft's manifest; 200 with `created: false` when already stored.
    """
    require_body(request)
    result = await ds.put_blob(sha256, request.stream())
    if not result["created"]:
        response.status_code = 200
    return result


@router.post("/blobs", response_model=BlobBatchResult, openapi_extra=_RAW_BODY)
async def put_blobs(request: Request, ds: DatasetService = Depends(datasets)) -> dict:
    """Upload many small files' bytes in one streamed body: frames of `<sha256> <size>\\n` + bytes.

    Each blob is verified and stored on its own; the answer lists the hashes by outcome.
    """
    require_body(request)
    return await ds.put_blobs(request.stream())


def _iter_frames(ds: DatasetService, blobs: list[tuple[str, int]]) -> Iterator[bytes]:
    for sha256, size in blobs:
        yield f"{sha256} {size}\n".encode()
        yield from iter_file(ds.blobs.open(sha256))  # sizes came from one query up front


@router.post("/blobs/download", responses=_BYTES, response_class=StreamingResponse)
async def download_blobs(body: BlobDownload, ds: DatasetService = Depends(datasets)) -> StreamingResponse:
    """Many stored blobs in one streamed answer, as frames of `<sha256> <size>\\n` + bytes (404 if any is not stored)."""
    blobs = await run_in_threadpool(ds.stored_sizes, body.hashes)
    return StreamingResponse(_iter_frames(ds, blobs), media_type="application/octet-stream")


@router.get("/blobs/{sha256}", responses=_BYTES, response_class=StreamingResponse)
async def get_blob(sha256: str = SHA256_PATH, ds: DatasetService = Depends(datasets)) -> StreamingResponse:
    """A stored file's bytes, streamed."""
    size, handle = await run_in_threadpool(ds.open_blob, sha256)
    headers = {"Content-Length": str(size), "X-Labtrack-Sha256": sha256, "Cache-Control": "private, max-age=31536000, immutable"}
    return StreamingResponse(iter_file(handle), media_type="application/octet-stream", headers=headers)


@router.post("/tasks/{task_id}/datasets", response_model=TaskInput, status_code=201)
def record_task_input(task_id: str, body: TaskInputCreate, ds: DatasetService = Depends(datasets)) -> dict:
    """Record a version as the task's input under an alias (also hyperparameter `Datasets/<alias>`)."""
    return _out(ds.record_input(task_id, body.alias, body.dataset_id))


@router.get("/tasks/{task_id}/datasets", response_model=TaskInputList)
def task_inputs(task_id: str, ds: DatasetService = Depends(datasets)) -> dict:
    """The task's input datasets by alias."""
    return {"items": [_out(i) for i in ds.task_inputs(task_id)]}
