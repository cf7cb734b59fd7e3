"""A lean ASGI path for `POST /tasks/{id}/events`, the one endpoint called thousands of times a run.

FastAPI's routing and dependency solving cost about as much per request as storing a batch of
1,000 points, so this middleware answers that one method and path itself, before routing. It does
exactly what the FastAPI route in `api/events.py` does (that route stays, and documents the
endpoint in the OpenAPI document): the same API-key check, then `read_body` and
`store_event_batch`, which the route calls too, and error rendering through the app's own
exception handlers. Any other request passes through.
"""

from __future__ import annotations

from typing import Any, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labtrack.server.api.common import OrjsonResponse, Services
from labtrack.server.errors import TooLarge
from labtrack.server.services.ingest import parse_body
from labtrack.server.store.db import WriteBusy

ExceptionHandlers = dict[Any, Callable[..., Any]]
# Bodies up to this size (a columnar batch of ~1,500 points) may be stored on the event loop.
INLINE_BODY_BYTES = 64 * 1024


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _task_id(path: str, prefix: str) -> str | None:
    """The `{task_id}` of `<prefix>/tasks/{task_id}/events`, or None for any other path."""
    if not path.endswith("/events") or not path.startswith(prefix):
        return None
    task_id = path[len(prefix):-len("/events")]
    if not task_id or "/" in task_id:
        return None
    return task_id


async def read_body(receive: Receive, limit: int, declared: str | None) -> bytes:
    """The request body, refusing (413) anything over `limit` bytes without reading it all."""
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"The body is larger than {limit} bytes: split the batch.", {"max_bytes": limit})
    parts: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()  # as Request.stream() does: a partial batch is never stored
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"The body is larger than {limit} bytes: split the batch.", {"max_bytes": limit})
            parts.append(chunk)
        if not message.get("more_body", False):
            break
    return parts[0] if len(parts) == 1 else b"".join(parts)


async def store_event_batch(svc: Services, task_id: str, body: bytes, content_type: str | None,
                            idempotency_key: str | None) -> dict[str, Any]:
    """Parse and store one batch (both the middleware and the documented route end here)."""
    content_type = (content_type or "application/json").lower()

    def work(wait: bool = True) -> dict[str, Any]:
        batch_id, raw = parse_body(body, content_type, idempotency_key)
        return svc.events.ingest(task_id, batch_id, raw, wait=wait)

    if svc.db.dialect == "sqlite" and len(body) <= INLINE_BODY_BYTES:
        # A small batch on SQLite takes about a millisecond, about what the hop to a worker
        # thread and back costs: store it right here if no other writer holds the lock
        # (SQLite writes are serialized anyway). Larger batches, a busy lock and PostgreSQL's
        # network round trips go to a worker thread, so the event loop is never held long.
        try:
            return work(wait=False)
        except WriteBusy:
            pass
    return await run_in_threadpool(work)


class EventIngestMiddleware:
    """Serves `POST <api prefix>/tasks/{id}/events` directly; everything else goes to `app`."""

    def __init__(self, app: ASGIApp, services: Services, prefix: str, handlers: ExceptionHandlers) -> None:
        self.app = app
        self.services = services
        self.prefix = prefix + "/tasks/"
        # The app's exception handlers (the same dict FastAPI uses), so errors leave in one shape.
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        task_id = _task_id(path, self.prefix)
        if task_id is None:
            await self.app(scope, receive, send)
            return
        try:
            response = await self._ingest(scope, receive, task_id)
        except ClientDisconnect:
            return  # the client left mid-body: nothing was stored and nobody waits for an answer
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise  # the server-error middleware logs it and answers 500 in the error shape
            response = await handler(Request(scope, receive), exc)
        await response(scope, receive, send)

    async def _ingest(self, scope: Scope, receive: Receive, task_id: str) -> OrjsonResponse:
        svc = self.services
        authorization = _header(scope, b"authorization")
        # Same check as the `current_user` dependency: a recently seen key is answered from memory.
        user = svc.keys.cached_user(authorization) or await run_in_threadpool(svc.keys.authenticate, authorization)
        scope.setdefault("state", {})["user"] = user
        body = await read_body(receive, svc.settings.max_body_bytes, _header(scope, b"content-length"))
        return OrjsonResponse(await store_event_batch(
            svc, task_id, body, _header(scope, b"content-type"), _header(scope, b"idempotency-key"),
        ))

    def _handler_for(self, exc: Exception) -> Callable[..., Any] | None:
        for cls in type(exc).__mro__:
            if cls is Exception:
                return None
            handler = self.handlers.get(cls)
            if handler is not None:
                return handler
        return None
