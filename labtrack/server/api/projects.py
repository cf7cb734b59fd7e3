"""`/projects`: create, list, get, rename, delete when empty."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response

from labtrack.server.api.common import ERRORS, Services, services, with_times
from labtrack.server.api.schemas import Project, ProjectCreate, ProjectList, ProjectPatch, Text

router = APIRouter(prefix="/projects", tags=["projects"], responses=ERRORS)


@router.post("", response_model=Project, status_code=201)
def create_project(body: ProjectCreate, svc: Services = Depends(services)) -> dict:
    """Create a project (409 if the name exists)."""
    return with_times(svc.projects.create(body.name, body.description), ("created",))


@router.get("", response_model=ProjectList)
def list_projects(
    search: Text | None = Query(None, max_length=1000),
    limit: int = Query(50, ge=1, le=1000),
    cursor: str | None = None,
    svc: Services = Depends(services),
) -> dict:
    """Projects sorted by name."""
    rows, next_cursor = svc.projects.list(search, limit, cursor)
    return {"items": [with_times(r, ("created",)) for r in rows], "next_cursor": next_cursor}


@router.get("/{project_id}", response_model=Project)
def get_project(project_id: str, svc: Services = Depends(services)) -> dict:
    """One project."""
    return with_times(svc.projects.get(project_id), ("created",))


@router.patch("/{project_id}", response_model=Project)
def patch_project(project_id: str, body: ProjectPatch, svc: Services = Depends(services)) -> dict:
    """Rename or re-describe a project."""
    return with_times(svc.projects.update(project_id, body.name, body.description), ("created",))


@router.delete("/{project_id}", status_code=204, response_class=Response)
def delete_project(project_id: str, svc: Services = Depends(services)) -> Response:
    """Delete a project that has no tasks (409 not_empty otherwise)."""
    svc.projects.delete(project_id)
    return Response(status_code=204)
