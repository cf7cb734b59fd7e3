"""`/keys`: create (secret shown once), list, revoke; every route needs an admin key."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from labtrack.server.api.common import ERRORS, Services, services, with_times
from labtrack.server.api.schemas import ErrorBody, KeyCreate, KeyCreated, KeyList
from labtrack.server.auth import Identity, require_admin
from labtrack.server.services.paging import CursorKey, check_limit, decode_cursor, encode_cursor


async def admin_key(request: Request, svc: Services = Depends(services)) -> Identity:
    """The caller's identity, if its key is an admin key (403 for a member key)."""
    header = request.headers.get("authorization")
    # The app-level key check ran just before, so this is normally answered from the key cache.
    identity = svc.keys.cached_identity(header)
    if identity is None:
        identity = await run_in_threadpool(svc.keys.identify, header)
    require_admin(identity)
    return identity


router = APIRouter(
    prefix="/keys",
    tags=["keys"],
    dependencies=[Depends(admin_key)],
    responses={**ERRORS, 403: {"model": ErrorBody, "description": "The key is not an admin key"}},
)


@router.post("", response_model=KeyCreated, status_code=201)
def create_key(body: KeyCreate, svc: Services = Depends(services)) -> dict:
    """Create an API key for any user and role; the response is the only time its secret is shown."""
    return with_times(svc.keys.create(body.user, body.description, body.role), ("created",))


@router.get("", response_model=KeyList)
def list_keys(
    limit: int = Query(50, ge=1, le=1000), cursor: str | None = None, svc: Services = Depends(services)
) -> dict:
    """Active keys (ids, users, roles, dates; never secrets)."""
    check_limit(limit)
    after = decode_cursor(cursor, [CursorKey.ID])
    rows = svc.keys.list(limit + 1, after[0] if after else None)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [with_times(r, ("created",)) for r in rows],
        "next_cursor": encode_cursor([rows[-1]["id"]]) if more else None,
    }


@router.delete("/{key_id}", status_code=204, response_class=Response)
def revoke_key(key_id: str, svc: Services = Depends(services)) -> Response:
    """Revoke a key (409 for the last admin key)."""
    svc.keys.revoke(key_id)
    return Response(status_code=204)
