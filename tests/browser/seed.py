"""Put experiments into a tracking server through its REST API (docs/api.md), for UI tests and
the UI benchmark."""

from __future__ import annotations

import math
import uuid
from typing import Any

import requests


class Seeder:
    """Creates projects, tasks and events on a tracking server with one API key."""

    def __init__(self, api: str, api_key: str):
        self.api = api.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {api_key}"

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        response = self.session.request(method, f"{self.api}/{path.lstrip('/')}", timeout=60, **kw)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    def task(
        self,
        project: str,
        name: str,
        params: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        status: str = "completed",
    ) -> dict[str, Any]:
        """Create a task with `General/*` hyperparameters and move it to `status`."""
        hyper = {
            "General": {k: {"value": str(v), "type": type(v).__name__, "description": ""} for k, v in (params or {}).items()}
        }
        body: dict[str, Any] = {"name": name, "project_name": project, "tags": tags or []}
        if params:
            body["hyperparams"] = hyper
        task = self._call("POST", "tasks", json=body)
        path = {
            "created": [],
            "queued": ["enqueue"],
            "in_progress": ["start"],
            "completed": ["start", "complete"],
            "failed": ["start", "fail"],
            "stopped": ["start", "stop"],
        }[status]
        for action in path:
            payload = {"force": True} if action == "stop" else {}
            task = self._call("POST", f"tasks/{task['id']}/{action}", json=payload)
        return task

    def curve(self, task_id: str, metric: str, variant: str, values: list[float], start: int = 0) -> None:
        """Report `values` at iterations start, start+1, … in batches of 100k points."""
        for offset in range(0, len(values), 100_000):
            chunk = values[offset : offset + 100_000]
            event = {
                "type": "scalars",
                "metric": metric,
                "variant": variant,
                "iterations": list(range(start + offset, start + offset + len(chunk))),
                "values": chunk,
            }
            self._call("POST", f"tasks/{task_id}/events", json={"batch_id": uuid.uuid4().hex, "events": [event]})

    def events(self, task_id: str, events: list[dict[str, Any]]) -> None:
        self._call("POST", f"tasks/{task_id}/events", json={"batch_id": uuid.uuid4().hex, "events": events})


def loss_curve(n: int, lr: float, noise_seed: int = 0) -> list[float]:
    """A decaying, slightly noisy training loss whose speed depends on `lr`."""
    out = []
    for i in range(n):
        wobble = 0.03 * math.sin(i * 0.37 + noise_seed) + 0.02 * math.sin(i * 1.91 + 3 * noise_seed)
        out.append(2.0 * math.exp(-lr * 40 * i / max(1, n)) + 0.1 + wobble)
    return out
