"""`labtrack status` and `labtrack server stop`: where runs go, and stopping the per-user server.

Status resolves the tracking server the way the SDK does (`LABTRACK_API_URL`, then the user's
config file, then the per-user embedded server) but never starts one: looking must not change
what it looks at. Both commands are clients: they read `labtrack.local_server`'s state and talk
HTTP, and import nothing from `labtrack.server`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from dataclasses import dataclass
from typing import Any

import requests

from labtrack import local_server, paths

__all__ = ["ServerStatus", "find_status", "server_stop_command", "status_command"]

_PAGE = 200


@dataclass
class ServerStatus:
    """Which server a run would use now, and what it holds."""

    url: str | None  # None: no server configured and the per-user one is not running
    found_by: str  # "LABTRACK_API_URL", "config file", "per-user server"
    embedded: bool  # the per-user server (its data folder is `data_dir`)
    pid: int | None
    answering: bool
    data_dir: str | None
    tasks: int | None = None
    projects: int | None = None
    error: str | None = None


def _count(url: str, api_key: str) -> tuple[int, int]:
    """(tasks, projects) on the server, from each project's task_count, page by page."""
    headers = {"Authorization": f"Bearer {api_key}"}
    tasks = projects = 0
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": _PAGE, **({"cursor": cursor} if cursor else {})}
        resp = requests.get(f"{url}/api/v1/projects", params=params, headers=headers, timeout=10)
        resp.raise_for_status()
        page = resp.json()
        projects += len(page["items"])
        tasks += sum(int(item.get("task_count", 0)) for item in page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return tasks, projects


def find_status() -> ServerStatus:
    """The server `Task.init` would use now (without starting one) and its task count."""
    embedded = local_server.find_embedded_server()
    env_url = os.environ.get("LABTRACK_API_URL", "").rstrip("/").removesuffix("/api/v1")
    configured = None if env_url else local_server.configured_server()
    if env_url:
        url, key, found_by = env_url, os.environ.get("LABTRACK_API_KEY", ""), "LABTRACK_API_URL"
    elif configured is not None:
        (url, key), found_by = configured, f"config file {paths.config_file()}"
    elif embedded is not None:
        url, key, found_by = embedded.url, embedded.api_key, "per-user server"
    else:
        return ServerStatus(url=None, found_by="per-user server", embedded=True, pid=None, answering=False,
                            data_dir=str(paths.data_dir()))
    mine = embedded if embedded is not None and url == embedded.url else None
    status = ServerStatus(url=url, found_by=found_by, embedded=mine is not None, pid=mine.pid if mine else None,
                          answering=False, data_dir=str(paths.data_dir()) if mine else None)
    try:
        status.tasks, status.projects = _count(url, key)
        status.answering = True
    except (requests.RequestException, ValueError, KeyError) as exc:
        status.error = str(exc)[:300]
    return status


def _render(status: ServerStatus) -> str:
    if status.url is None:
        return "\n".join([
            "server   none running: the per-user server starts with the next Task.init or `labtrack lab`",
            f"data     {status.data_dir}",
        ])
    where = "the per-user server" if status.embedded else "found by " + status.found_by
    if status.embedded:
        where += f", pid {status.pid}; stop it with `labtrack server stop`"
    lines = [f"server   {status.url} ({where})"]
    if status.data_dir:
        lines.append(f"data     {status.data_dir} (labtrack.db, artifacts/, server.log)")
    else:
        lines.append("data     on the server's machine (see its --db and --artifacts)")
    if status.answering:
        lines.append(f"tasks    {status.tasks} in {status.projects} project(s); see them in JupyterLab's "
                     "labtrack sidebar (`labtrack lab`)")
    else:
        lines.append(f"tasks    unknown: the server does not answer ({status.error})")
    return "\n".join(lines)


def status_command(args: argparse.Namespace) -> int:
    """`labtrack status [--json]`: exit 0 when the server answers or none is needed yet, else 1."""
    status = find_status()
    if args.json:
        print(json.dumps(dataclasses.asdict(status), indent=2))
    else:
        print(_render(status))
    return 0 if status.url is None or status.answering else 1


def server_stop_command(args: argparse.Namespace) -> int:
    """`labtrack server stop`: stop the per-user server (a configured team server is not ours to stop)."""
    found = local_server.find_embedded_server()
    if found is None:
        print("labtrack server stop: the per-user server is not running")
        return 0
    # The user asks for it: stop it as if this process had started it.
    local_server.stop_embedded_server(dataclasses.replace(found, started=True), timeout=args.timeout)
    print(f"labtrack server stop: stopped the per-user server at {found.url} (pid {found.pid})")
    return 0
