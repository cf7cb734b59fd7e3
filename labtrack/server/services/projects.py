"""Project rules: names, uniqueness, delete only when empty."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from labtrack.server.errors import Conflict, Invalid, NotEmpty, NotFound
from labtrack.server.services.paging import CursorKey, check_limit, decode_cursor, encode_cursor
from labtrack.server.store import projects as project_store
from labtrack.server.store.db import Database
from labtrack.server.util import new_id, now


# The name rule, as a regex the OpenAPI document states too: '/'-separated segments of 1-100
# characters, none a control character, none starting or ending with whitespace (as str.strip sees it).
# Whitespace is spelled out (what str.isspace calls whitespace): regex engines and generators
# disagree on what \s holds.
_EDGE = r"[^/\x00-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
_SEGMENT = rf"{_EDGE}(?:[^/\x00-\x1f]{{0,98}}{_EDGE})?"
PROJECT_NAME_PATTERN = rf"^{_SEGMENT}(?:/{_SEGMENT})*$"
_PROJECT_NAME = re.compile(PROJECT_NAME_PATTERN)


def normalize_name(name: str) -> str:
    """Validate a hierarchical project name (`team/vision`); raises Invalid with what to fix."""
    if not isinstance(name, str) or not name:
        raise Invalid("A project name must be a non-empty string.", [{"loc": ["body", "name"], "msg": "empty"}])
    if not _PROJECT_NAME.fullmatch(name):
        raise Invalid(
            f"Project name {name!r} is not valid: use '/'-separated segments of 1-100 printable "
            "characters without leading or trailing spaces (e.g. 'team/vision').",
            [{"loc": ["body", "name"], "msg": "invalid project name"}],
        )
    return name


class ProjectService:
    """Create, read, rename and delete projects."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, name: str, description: str = "") -> dict[str, Any]:
        """Create a project; Conflict when the name is taken."""
        name = normalize_name(name)
        try:
            with self.db.write() as conn:
                if project_store.get_by_name(conn, name):
                    raise Conflict(f"A project named {name!r} already exists.", {"name": name})
                project_id = new_id()
                project_store.insert_project(conn, project_id=project_id, name=name, description=description, created=now())
        except IntegrityError:
            raise Conflict(f"A project named {name!r} already exists.", {"name": name}) from None
        return self.get(project_id)

    def get_or_create_id(self, conn: Connection, name: str) -> str:
        """The id of the named project, created on the way (inside the caller's write transaction)."""
        name = normalize_name(name)
        row = project_store.get_by_name(conn, name)
        if row:
            return row["id"]
        project_id = new_id()
        project_store.insert_project(conn, project_id=project_id, name=name, description="", created=now())
        return project_id

    def get(self, project_id: str) -> dict[str, Any]:
        """A project; NotFound when unknown."""
        with self.db.read() as conn:
            row = project_store.get(conn, project_id)
        if not row:
            raise NotFound(f"Project {project_id} does not exist.")
        return row

    def list(self, search: str | None, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of projects sorted by name and the next cursor."""
        check_limit(limit)
        after = decode_cursor(cursor, [CursorKey.TEXT])
        with self.db.read() as conn:
            rows = project_store.list_projects(conn, search=search, after_name=after[0] if after else None, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, encode_cursor([rows[-1]["name"]]) if more else None

    def update(self, project_id: str, name: str | None, description: str | None) -> dict[str, Any]:
        """Rename or re-describe a project."""
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = normalize_name(name)
        if description is not None:
            values["description"] = description
        try:
            with self.db.write() as conn:
                row = project_store.get(conn, project_id)
                if not row:
                    raise NotFound(f"Project {project_id} does not exist.")
                if "name" in values and values["name"] != row["name"] and project_store.get_by_name(conn, values["name"]):
                    raise Conflict(f"A project named {values['name']!r} already exists.", {"name": values["name"]})
                if values:
                    project_store.update_project(conn, project_id, values)
        except IntegrityError:
            raise Conflict(f"A project named {values.get('name')!r} already exists.") from None
        return self.get(project_id)

    def delete(self, project_id: str) -> None:
        """Delete an empty project; NotEmpty while it has tasks (or dataset versions)."""
        try:
            self._delete(project_id)
        except IntegrityError:  # rows of other tables (dataset versions) still name the project
            raise NotEmpty("The project still has dataset versions: delete them first.") from None

    def _delete(self, project_id: str) -> None:
        with self.db.write() as conn:
            row = project_store.get(conn, project_id)
            if not row:
                raise NotFound(f"Project {project_id} does not exist.")
            if row["task_count"]:
                raise NotEmpty(
                    f"Project {row['name']!r} still has {row['task_count']} task(s): delete or move them first.",
                    {"task_count": row["task_count"]},
                )
            project_store.delete_project(conn, project_id)
