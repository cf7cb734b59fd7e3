"""The ASGI app factory: `create_app(settings)` wires store, storage, services and routers (no globals)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
import time
from typing import Any, AsyncIterator

import psycopg
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from labtrack import __version__
from labtrack.server.api import artifacts as artifacts_api
from labtrack.server.api import datasets as datasets_api
from labtrack.server.api import docs as docs_api
from labtrack.server.api import events as events_api
from labtrack.server.api import health as health_api
from labtrack.server.api import keys as keys_api
from labtrack.server.api import models as models_api
from labtrack.server.api import projects as projects_api
from labtrack.server.api import queues as queues_api
from labtrack.server.api import tasks as tasks_api
from labtrack.server.api import workers as workers_api
from labtrack.server.api.common import OrjsonResponse, Services, current_user
from labtrack.server.api.headers import SecurityHeadersMiddleware
from labtrack.server.api.ingest_route import EventIngestMiddleware
from labtrack.server.auth import KeyService
from labtrack.server.errors import LabtrackError, Unavailable
from labtrack.server.services.artifacts import ArtifactService
from labtrack.server.services.events import EventService
from labtrack.server.services.projects import ProjectService
from labtrack.server.services.tasks import TaskService
from labtrack.server.services.workers import WorkerService
from labtrack.server.settings import Settings
from labtrack.server.storage import FsspecStorage
from labtrack.server.store.db import Database, unavailable_from, upgrade

log = logging.getLogger("labtrack.server")
API_PREFIX = "/api/v1"


def build_services(settings: Settings) -> Services:
    """Open the store and storage and build the services (migrating first when configured)."""
    db = Database(settings.db_url, busy_timeout=settings.sqlite_busy_timeout)
    if settings.migrate_on_start:
        upgrade(db)
    storage = FsspecStorage(settings.artifacts_url)
    keys = KeyService(db)
    if settings.bootstrap_key:
        keys.ensure(settings.bootstrap_key, settings.bootstrap_user, "bootstrap key")
    projects = ProjectService(db)
    artifacts = ArtifactService(db, storage, settings.max_artifact_bytes)
    tasks = TaskService(db, projects, on_delete=artifacts.delete_task_files)
    events = EventService(db, settings.max_batch_points, settings.max_console_bytes)
    return Services(settings=settings, db=db, keys=keys, projects=projects, tasks=tasks, events=events, artifacts=artifacts)


def _error(status: int, code: str, message: str, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> OrjsonResponse:
    return OrjsonResponse(
        {"error": {"code": code, "message": message, "details": details or {}}}, status_code=status, headers=headers
    )


def _loc_text(loc: Any) -> str:
    return ".".join(str(part) for part in loc) if isinstance(loc, (list, tuple)) else str(loc)


def _validation_msg(error: dict[str, Any]) -> str:
    if error.get("type") == "string_unicode":
        # pydantic's words for a str holding a lone UTF-16 surrogate (a JSON "\\udce9" escape).
        return ("holds a lone UTF-16 surrogate (such as \\udce9), which is not valid Unicode text: send UTF-8 "
                "text, replacing or dropping characters that can't be encoded")
    return str(error.get("msg", ""))


def _method_table(app: FastAPI) -> list[tuple[re.Pattern[str], bool, set[str]]]:
    """(path regex, is a literal path, methods) for every path of the OpenAPI document, built once."""
    table = getattr(app.state, "allowed_methods", None)
    if table is None:
        table = []
        for template, operations in app.openapi().get("paths", {}).items():
            regex = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")
            table.append((regex, "{" not in template, {m.upper() for m in operations if m != "parameters"}))
        app.state.allowed_methods = table
    return table


def _allowed_methods(request: Request) -> str:
    """The methods the document lists for this path (Starlette's 405 names only the first route's).

    A literal path (`/blobs/download`) hides the templates that also match it (`/blobs/{sha256}`),
    as it does when routing.
    """
    path = request.scope.get("path", "")
    literal: set[str] = set()
    templated: set[str] = set()
    for regex, is_literal, methods in _method_table(request.app):
        if regex.match(path):
            (literal if is_literal else templated).update(methods)
    return ", ".join(sorted(literal or templated))


def install_error_handlers(app: FastAPI) -> None:
    """Every error, whoever raises it, leaves in the one JSON shape."""

    @app.exception_handler(LabtrackError)
    async def domain_error(_request: Request, exc: LabtrackError) -> OrjsonResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if isinstance(exc, Unavailable):
            headers = {"Retry-After": str(exc.retry_after)}
        return _error(exc.status, exc.code, exc.message, exc.details, headers)

    last_outage_log = [0.0]

    @app.exception_handler(SQLAlchemyError)
    @app.exception_handler(sqlite3.Error)
    @app.exception_handler(psycopg.Error)
    async def database_error(request: Request, exc: Exception) -> OrjsonResponse:
        # A database that can't be reached or is locked is "retry later" (503), not a bug (500).
        unavailable = unavailable_from(exc)
        if unavailable is None:
            return await unexpected(request, exc)
        if time.monotonic() - last_outage_log[0] > 10:  # one line per outage burst, not per request
            last_outage_log[0] = time.monotonic()
            log.warning("database unavailable, answering 503: %s", str(getattr(exc, "orig", exc)).strip()[:300])
        return await domain_error(request, unavailable)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> OrjsonResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": _validation_msg(e)} for e in exc.errors()]
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return _error(400, "bad_request", "The body is not valid JSON.", {"errors": errors})
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        message = f"{_loc_text(first['loc'])}: {first['msg']}"
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem(s), see details.errors)"
        return _error(422, "invalid", message, {"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> OrjsonResponse:
        if exc.status_code == 404:
            return _error(404, "not_found", f"No endpoint {request.url.path}: see {API_PREFIX}/openapi.json.")
        if exc.status_code == 405:
            return _error(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}.",
                          headers={**(exc.headers or {}), "Allow": _allowed_methods(request)})
        code = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 413: "too_large"}.get(exc.status_code, "error")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(DataError)
    async def data_error(_request: Request, exc: DataError) -> OrjsonResponse:
        # The database refused a value the schema let through (a NUL character, an over-long name).
        return _error(422, "invalid", "A value can't be stored: text must not contain NUL characters and names must "
                      "fit their documented lengths.", {"errors": [{"loc": ["body"], "msg": type(exc.orig).__name__}]})

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> OrjsonResponse:
        log.exception("unhandled error")
        return _error(500, "internal", "The server hit a bug; the log has the details.")


async def _watchdog(services: Services, workers: WorkerService) -> None:
    """Fail silent in-progress tasks ('lost contact') and the tasks of silent workers ('worker lost'),
    checking a few times per timeout."""
    settings = services.settings
    timeout = settings.lost_contact_timeout
    interval = min(max(min(timeout, settings.worker_timeout) / 4, 0.2), 30.0)
    while True:
        await asyncio.sleep(interval)
        try:
            lost = await run_in_threadpool(workers.sweep_lost, settings.worker_timeout)
            if lost:
                log.info("marked %d silent worker(s) gone (worker lost)", lost)
        except Exception:  # keep watching; the next sweep may succeed
            log.exception("lost-worker sweep failed")
        try:
            count = await run_in_threadpool(services.tasks.fail_silent_tasks, timeout)
            if count:
                log.info("marked %d silent task(s) failed (lost contact)", count)
        except Exception:  # keep watching; the next sweep may succeed
            log.exception("lost-contact sweep failed")


class LabtrackApp(FastAPI):
    """FastAPI with the security headers outside everything, even the 500 page of ServerErrorMiddleware."""

    def build_middleware_stack(self) -> ASGIApp:
        # add_middleware() would place it inside ServerErrorMiddleware, whose answers would lack it.
        return SecurityHeadersMiddleware(super().build_middleware_stack())


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the tracking server's ASGI app for the given settings."""
    settings = settings or Settings()
    svc = build_services(settings)
    queues = queues_api.build_queue_service(svc)
    workers = WorkerService(svc.db)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        watcher = asyncio.create_task(_watchdog(svc, workers)) if settings.watchdog else None
        try:
            yield
        finally:
            if watcher:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            svc.db.dispose()

    app = LabtrackApp(
        title="labtrack tracking server",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # api/docs.py serves it, with the CSP Swagger UI needs
        redoc_url=None,
        default_response_class=OrjsonResponse,
        lifespan=lifespan,
    )
    app.state.services = svc
    install_error_handlers(app)
    app.include_router(health_api.router, prefix=API_PREFIX)
    app.include_router(docs_api.router, prefix=API_PREFIX)
    secured = [Depends(current_user)]
    app.state.datasets = datasets_api.build_dataset_service(svc)
    app.state.models = models_api.build_model_service(svc)
    app.state.queues, app.state.workers = queues, workers
    for module in (keys_api, projects_api, tasks_api, events_api, artifacts_api, datasets_api, models_api, queues_api,
                   workers_api):
        app.include_router(module.router, prefix=API_PREFIX, dependencies=secured)
    # Event batches skip routing and dependency solving (the route above still documents them).
    app.add_middleware(EventIngestMiddleware, services=svc, prefix=API_PREFIX, handlers=app.exception_handlers)
    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn worker processes: settings come from the environment."""
    return create_app(Settings.from_env(migrate_on_start=False))
