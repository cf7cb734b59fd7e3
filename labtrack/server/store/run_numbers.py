"""Run numbers: where a task stands among the tasks of its project that share its name.

Three runs of `digits-sgd` look alike in any list; numbering them by creation order
(`digits-sgd #1`, `#2`, `#3`) tells them apart. The number is computed when rows are read,
never stored, so deleting or moving a run renumbers the rest and nothing can drift. Archived
tasks count, so archiving or restoring a run never renumbers its siblings.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from typing import Any, Iterable

from sqlalchemy import Connection, func, select

from labtrack.server.store.tables import tasks

# Names per statement: well under SQLite's bound-parameter limit.
_CHUNK = 500

Group = tuple[str, str]  # (project_id, name)


def run_numbers(conn: Connection, rows: Iterable[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """`{task id: (number, count)}` for `rows` (dicts with id, project_id, name and created).

    `number` is 1 for the oldest task of that name in that project (ties broken by id) and
    `count` is how many tasks of that project have the name. Both statements go through the
    `name` index: first the group sizes, then the creation order of only the groups with more
    than one task, so a page of uniquely named runs costs one indexed count.
    """
    wanted = list(rows)
    groups: dict[Group, list[dict[str, Any]]] = defaultdict(list)
    for row in wanted:
        groups[(row["project_id"], row["name"])].append(row)
    sizes = _group_sizes(conn, list(groups))
    shared = [g for g in groups if sizes.get(g, 1) > 1]
    order = _creation_order(conn, shared)
    out: dict[str, tuple[int, int]] = {}
    for group, members in groups.items():
        size = sizes.get(group, 1)
        keys = order.get(group, [])
        for row in members:
            number = bisect_left(keys, (row["created"], row["id"])) + 1 if size > 1 else 1
            out[row["id"]] = (number, size)
    return out


def _group_sizes(conn: Connection, groups: list[Group]) -> dict[Group, int]:
    sizes: dict[Group, int] = {}
    for start in range(0, len(groups), _CHUNK):
        chunk = groups[start : start + _CHUNK]
        query = (
            select(tasks.c.project_id, tasks.c.name, func.count())
            .where(tasks.c.name.in_({name for _, name in chunk}))
            .group_by(tasks.c.project_id, tasks.c.name)
        )
        wanted = set(chunk)
        for project_id, name, count in conn.execute(query):
            if (project_id, name) in wanted:
                sizes[(project_id, name)] = int(count)
    return sizes


def _creation_order(conn: Connection, groups: list[Group]) -> dict[Group, list[tuple[float, str]]]:
    """Each group's `(created, id)` keys, oldest first."""
    order: dict[Group, list[tuple[float, str]]] = defaultdict(list)
    wanted = set(groups)
    for start in range(0, len(groups), _CHUNK):
        chunk = groups[start : start + _CHUNK]
        query = select(tasks.c.project_id, tasks.c.name, tasks.c.created, tasks.c.id).where(
            tasks.c.name.in_({name for _, name in chunk})
        )
        for project_id, name, created, task_id in conn.execute(query):
            if (project_id, name) in wanted:
                order[(project_id, name)].append((created, task_id))
    for keys in order.values():
        keys.sort()
    return order
