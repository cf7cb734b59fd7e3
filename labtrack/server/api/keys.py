"""`/keys`: create (secret shown once), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response

from labtrack.server.api.common import ERRORS, Services, services, with_times
from labtrack.server.api.schemas import KeyCreate, KeyCreated, KeyList
from labtrack.server.services.paging import check_limit, decode_cursor, encode_cursor

router = APIRouter(prefix="/keys", tags=["keys"], responses=ERRORS)


@router.post("", response_model=KeyCreated, status_code=201)
def create_key(body: KeyCreate, svc: Services = Depends(services)) -> dict:
    """Create an API key; the response is the only time its secret is shown."""
    return with_times(svc.keys.create(body.user, body.description), ("created",))


@router.get("", response_model=KeyList)
def list_keys(
    limit: int = Query(50, ge=1, le=1000), cursor: str | None = None, svc: Services = Depends(services)
) -> dict:
    """Active keys (ids, users, dates; never secrets)."""
    check_limit(limit)
    after = decode_cursor(cursor, 1)
    rows = svc.keys.list(limit + 1, after[0] if after else None)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [with_times(r, ("created",)) for r in rows],
        "next_cursor": encode_cursor([rows[-1]["id"]]) if more else None,
    }


@router.delete("/{key_id}", status_code=204, response_class=Response)
def revoke_key(key_id: str, svc: Services = Depends(services)) -> Response:
    """Revoke a key."""
    svc.keys.revoke(key_id)
    return Response(status_code=204)
