"""What every router shares: the services container, auth dependency, JSON rendering, time fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import orjson
from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from labtrack.server.api.schemas import ErrorBody
from labtrack.server.auth import KeyService
from labtrack.server.services.artifacts import ArtifactService
from labtrack.server.services.events import EventService
from labtrack.server.services.projects import ProjectService
from labtrack.server.services.tasks import TaskService
from labtrack.server.settings import Settings
from labtrack.server.store.db import Database
from labtrack.server.util import iso

TASK_TIMES = ("created", "started", "last_update", "completed")


@dataclass
class Services:
    """Everything a request handler may call, built once per app."""

    settings: Settings
    db: Database
    keys: KeyService
    projects: ProjectService
    tasks: TaskService
    events: EventService
    artifacts: ArtifactService


class OrjsonResponse(JSONResponse):
    """JSON rendered by orjson (fast; NaN/inf become null, matching the NaN policy)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


async def services(request: Request) -> Services:
    """The app's services (async: a plain lookup needs no worker thread)."""
    return request.app.state.services


_bearer = HTTPBearer(auto_error=False, description="An API key: `labtrack keys create` prints one.")


async def current_user(
    request: Request, _creds: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> str:
    """The user the request's API key belongs to (401 without a valid key)."""
    keys = request.app.state.services.keys
    header = request.headers.get("authorization")
    # A key seen in the last seconds is answered from memory; only a miss reads the database.
    user = keys.cached_user(header) or await run_in_threadpool(keys.authenticate, header)
    request.state.user = user
    return user


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (400, "Malformed request"),
        (401, "Missing or invalid API key"),
        (404, "Unknown id"),
        (409, "Conflicts with the current state"),
        (413, "Too large"),
        (422, "Invalid values"),
    )
}


def with_times(item: dict[str, Any], fields: tuple[str, ...] = TASK_TIMES) -> dict[str, Any]:
    """Unix-second fields → ISO 8601 strings, in place."""
    for name in fields:
        if name in item:
            item[name] = iso(item[name])
    return item


def page(items: Iterable[dict[str, Any]], next_cursor: str | None,
         out: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> dict[str, Any]:
    """A list endpoint's answer, `{"items", "next_cursor"}`, each item rendered by `out` when given."""
    return {"items": [out(i) for i in items] if out else list(items), "next_cursor": next_cursor}
