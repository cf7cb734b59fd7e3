"""The agent's calls to the tracking server: workers, queues and the task it runs (HTTP only).

A thin layer over the SDK's `ApiClient` (one pooled session per thread, the SDK's error types),
named after what the agent does; every route is in /work/coord/queues-contract.md and docs/api.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labtrack.sdk.client import ApiClient
from labtrack.sdk.errors import Conflict, NotFound


class AgentApi:
    """Worker registration, heartbeats, queue pops and task status changes for one agent."""

    def __init__(self, client: ApiClient):
        self.client = client

    # -- workers ---------------------------------------------------------------------------------

    def register(self, name: str, queues: list[str], resources: dict[str, Any], replace: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "queues": queues, "resources": resources}
        if replace:
            body["replace"] = True
        return self.client.post("/workers", json=body)

    def active_worker(self, name: str) -> dict[str, Any] | None:
        for worker in self.client.get("/workers", params={"status": "active"}).get("items", []):
            if worker.get("name") == name:
                return worker
        return None

    def heartbeat(self, worker_id: str, task_id: str | None, usage: dict[str, Any]) -> dict[str, Any]:
        return self.client.post(f"/workers/{worker_id}/heartbeat", json={"task_id": task_id, "usage": usage}) or {}

    def unregister(self, worker_id: str) -> None:
        try:
            self.client.delete(f"/workers/{worker_id}")
        except NotFound:
            pass

    # -- queues ----------------------------------------------------------------------------------

    def ensure_queue(self, name: str) -> None:
        """Create the queue unless it exists (`--create-queue`)."""
        try:
            self.client.get(f"/queues/{name}")
        except NotFound:
            try:
                self.client.post("/queues", json={"name": name})
            except Conflict:
                pass  # another agent made it meanwhile

    def pop(self, queues: list[str], worker_id: str, wait: float) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The next task of the first non-empty queue, waiting up to `wait` s; None when none came."""
        resp = self.client.request("POST", "/queues/pop", json={"queues": queues, "worker": worker_id, "wait": wait},
                                   timeout=(5.0, wait + 30.0))
        if resp.status_code == 204 or not resp.content:
            return None
        body = resp.json()
        return body["task"], body.get("queue") or {}

    # -- the task being run ----------------------------------------------------------------------

    def task(self, task_id: str) -> dict[str, Any]:
        return self.client.get(f"/tasks/{task_id}")

    def touch_task(self, task_id: str) -> None:
        """Contact for the task (its lost-contact timer) while a child that never attached runs."""
        self.client.post(f"/tasks/{task_id}/heartbeat")

    def end_task(self, task_id: str, action: str, reason: str = "", message: str = "", force: bool = False) -> None:
        """complete / fail / stop; a task that ended meanwhile (409) keeps the status it has."""
        body: dict[str, Any] = {"reason": reason[:10_000], "message": message[:100_000]}
        if force:
            body["force"] = True
        try:
            self.client.post(f"/tasks/{task_id}/{action}", json=body)
        except Conflict:
            pass

    def requeue(self, task_id: str, queue: str) -> None:
        """Give back a task popped while shutting down: stopped, then enqueued again where it was."""
        self.end_task(task_id, "stop", message="the agent shut down before starting it", force=True)
        self.client.post(f"/tasks/{task_id}/enqueue", json={"queue": queue})

    def upload_artifact(self, task_id: str, key: str, path: Path, type_: str, filename: str) -> None:
        with open(path, "rb") as fh:
            self.client.put(f"/tasks/{task_id}/artifacts/{key}", data=fh, params={"type": type_, "filename": filename})
