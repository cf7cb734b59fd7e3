"""Event ingest (`POST /tasks/{id}/events`) and reads: metrics, series, comparison, console, media events."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from labtrack.server.api.common import ERRORS, OrjsonResponse, Services, services
from labtrack.server.api.ingest_route import read_body, store_event_batch
from labtrack.server.api.schemas import NUL_FREE, WS, Text, ConsoleList, EventBatchResult, MediaEventList, MetricList, Series, SeriesList
from labtrack.server.errors import Invalid
from labtrack.server.services.ingest import MAX_ITERATION, MAX_NAME, STREAMS

router = APIRouter(tags=["events"], responses=ERRORS)
# 1-100 ids, none twice (the lookahead: no id whose digits come again later).
TASK_IDS_PATTERN = r"^(?!.*([0-9a-f]{32}).*\1)[0-9a-f]{32}(?:,[0-9a-f]{32}){0,99}$"
_TASK_IDS = re.compile(TASK_IDS_PATTERN)

def _event(kind: str, required: list[str], **fields: dict[str, Any]) -> dict[str, Any]:
    """One event type's schema: the fields services/ingest.py allows for it, and no others."""
    return {"type": "object", "title": f"{kind} event", "required": ["type", *required], "additionalProperties": False,
            "properties": {"type": {"type": "string", "const": kind}, **fields}}


# The rules services/ingest.py checks, as a schema. One rule it checks can't be said here: a
# `scalars` event's `values` (and `times`, when sent) are as long as its `iterations`.
_TIME: dict[str, Any] = {"type": ["number", "null"], "description": "Unix seconds; null or left out: when the server received it"}
_ITERATION: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": MAX_ITERATION}
_NAME: dict[str, Any] = {"type": "string", "maxLength": MAX_NAME, **NUL_FREE}
_METRIC: dict[str, Any] = {**_NAME, "minLength": 1}
_WS = WS + "*"
_VALUE: dict[str, Any] = {"anyOf": [
    {"type": "number"}, {"type": "null"},
    {"type": "string", "description": "NaN or ±Infinity, stored as a gap",
     "pattern": rf"^{_WS}(?:[nN][aA][nN]|[+-]?[iI][nN][fF](?:[iI][nN][iI][tT][yY])?){_WS}$"},
]}
_NAMED = {"metric": _METRIC, "variant": _NAME}
_EVENT_SCHEMA: dict[str, Any] = {"oneOf": [
    _event("scalar", ["metric", "iteration", "value"], **_NAMED, iteration=_ITERATION, value=_VALUE, time=_TIME),
    _event("scalars", ["metric", "iterations", "values"], **_NAMED, iterations={"type": "array", "items": _ITERATION},
           values={"type": "array", "items": _VALUE}, times={"type": ["array", "null"], "items": {"type": "number"}}),
    _event("console", ["text"], text={"type": "string"}, stream={"type": "string", "enum": list(STREAMS)}, time=_TIME),
    _event("plot", ["metric", "figure"], **_NAMED, iteration={"anyOf": [_ITERATION, {"type": "null"}]},
           figure={"type": "object", "description": "a plotly figure"}, time=_TIME),
    _event("table", ["metric", "columns", "rows"], **_NAMED, iteration={"anyOf": [_ITERATION, {"type": "null"}]},
           columns={"type": "array", "items": {"type": "string"}}, rows={"type": "array", "items": {"type": "array"}},
           time=_TIME),
    _event("image", ["metric", "uri"], **_NAMED, iteration={"anyOf": [_ITERATION, {"type": "null"}]},
           uri={"type": "string", "minLength": 1, "maxLength": 2000}, time=_TIME),
]}
_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {
                            "type": "object",
                            "required": ["events"],
                            "additionalProperties": False,
                            "properties": {
                                "batch_id": {"type": ["string", "null"], "minLength": 1, "maxLength": 200},
                                "events": {"type": "array", "items": _EVENT_SCHEMA},
                            },
                        },
                        {"type": "array", "items": _EVENT_SCHEMA},
                    ]
                }
            },
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}


@router.post("/tasks/{task_id}/events", response_model=EventBatchResult, openapi_extra=_BATCH_BODY)
async def post_events(task_id: str, request: Request, svc: Services = Depends(services)) -> OrjsonResponse:
    """Store a batch of events atomically; a repeated batch id is acknowledged and not stored again."""
    headers = request.headers
    body = await read_body(request.receive, svc.settings.max_body_bytes, headers.get("content-length"))
    return OrjsonResponse(
        await store_event_batch(svc, task_id, body, headers.get("content-type"), headers.get("idempotency-key"))
    )


@router.get("/tasks/{task_id}/metrics", response_model=MetricList)
def list_metrics(task_id: str, svc: Services = Depends(services)) -> OrjsonResponse:
    """The metric/variant pairs of a task with last/min/max/count."""
    return OrjsonResponse({"items": svc.events.metrics(task_id)})


@router.get("/tasks/{task_id}/scalars", response_model=Series)
def get_series(
    task_id: str,
    metric: Annotated[Text, Query(min_length=1, max_length=500)],
    variant: Annotated[Text, Query(max_length=500)] = "",
    start: int | None = Query(None, ge=0, le=2**62, description="first iteration (inclusive)"),
    end: int | None = Query(None, ge=0, le=2**62, description="last iteration (inclusive)"),
    limit: int = Query(10_000, ge=1, le=100_000),
    cursor: str | None = None,
    buckets: int | None = Query(None, ge=1, le=10_000, description="downsample into N buckets (min/max/last)"),
    svc: Services = Depends(services),
) -> OrjsonResponse:
    """One series: raw by iteration range (paged), or downsampled into `buckets`."""
    return OrjsonResponse(
        svc.events.series(task_id, metric, variant, start=start, end=end, limit=limit, cursor=cursor, buckets=buckets)
    )


@router.get("/scalars", response_model=SeriesList)
def compare_series(
    metric: Annotated[Text, Query(min_length=1, max_length=500)],
    task_ids: str = Query(..., description="comma list of 1-100 distinct task ids",
                          json_schema_extra={"pattern": TASK_IDS_PATTERN}),
    variant: Text | None = Query(None, max_length=500, description="omit for every variant"),
    start: int | None = Query(None, ge=0, le=2**62),
    end: int | None = Query(None, ge=0, le=2**62),
    limit: int = Query(10_000, ge=1, le=100_000),
    buckets: int | None = Query(None, ge=1, le=10_000),
    svc: Services = Depends(services),
) -> OrjsonResponse:
    """One metric for many tasks (for comparison charts)."""
    ids = task_ids.split(",")
    if len(set(ids)) != len(ids):
        raise Invalid("task_ids lists a task twice.", [{"loc": ["query", "task_ids"], "msg": "duplicate"}])
    if not _TASK_IDS.fullmatch(task_ids):
        raise Invalid("task_ids must be 1-100 task ids (32 hex digits each), separated by commas.",
                      [{"loc": ["query", "task_ids"], "msg": "format"}])
    items = svc.events.compare(ids, metric, variant, start=start, end=end, limit=limit, buckets=buckets)
    return OrjsonResponse({"items": items})


@router.get("/tasks/{task_id}/console", response_model=ConsoleList)
def get_console(
    task_id: str,
    tail: int | None = Query(None, ge=1, le=10_000, description="the last N lines"),
    after: int | None = Query(None, ge=0, le=2**62, description="lines after this seq"),
    limit: int = Query(1000, ge=1, le=10_000),
    svc: Services = Depends(services),
) -> OrjsonResponse:
    """Console output in seq order: the tail, or a page after a seq.

    One answer holds at most 4 Mi characters of text: a tail keeps the newest lines that fit, a
    page stops early with `next_cursor`, and a single longer line (stored before console events
    were capped at 1 MiB) comes back cut, with a marker."""
    items, next_cursor = svc.events.console(task_id, tail=tail, after=after, limit=limit)
    return OrjsonResponse({"items": items, "next_cursor": next_cursor})


def _media_route(kind: str, path: str) -> None:
    def endpoint(
        task_id: str,
        metric: Text | None = Query(None, max_length=500),
        after: int | None = Query(None, ge=0, le=2**62),
        limit: int = Query(100, ge=1, le=1000),
        svc: Services = Depends(services),
    ) -> OrjsonResponse:
        items, next_cursor = svc.events.media_events(task_id, kind, metric=metric, after=after, limit=limit)
        return OrjsonResponse({"items": items, "next_cursor": next_cursor})

    endpoint.__name__ = f"list_{path}"
    endpoint.__doc__ = f"The task's {path} events in seq order."
    router.add_api_route(f"/tasks/{{task_id}}/{path}", endpoint, methods=["GET"], response_model=MediaEventList)


for _kind, _path in (("plot", "plots"), ("table", "tables"), ("image", "images")):
    _media_route(_kind, _path)
