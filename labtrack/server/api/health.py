"""`GET /health`: the one API operation without auth (the OpenAPI document and /docs are public too)."""

from __future__ import annotations

from fastapi import APIRouter

from labtrack import __version__
from labtrack.server.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health() -> dict[str, str]:
    """Liveness: answers without touching the database."""
    return {"status": "ok", "version": __version__}
