"""Notebook widgets (ipywidgets): `Enqueue` sends a task to a queue and follows the remote run;
`LiveScalars` charts a task's scalars live. `labtrack.widgets` loads ipywidgets on first use."""

from __future__ import annotations

from typing import Any

from labtrack.sdk import enqueue_widget
from labtrack.sdk.client import ApiClient
from labtrack.sdk.task import Task
from labtrack.sdk.widgets import LiveScalars

__all__ = ["Enqueue", "LiveScalars"]


class Enqueue(enqueue_widget.Enqueue):
    """Pick a queue, edit the parameters, enqueue and follow the run (`labtrack.sdk.enqueue_widget`).

    Args:
        task: a `Task`, a task id, or None for this process's current task (the notebook's run).
    """

    def __init__(self, task: Task | str | None = None, queue_name: str = "default", refresh_seconds: float = 2.0,
                 client: ApiClient | None = None, **kw: Any):
        super().__init__(task, Task, queue_name=queue_name, refresh_seconds=refresh_seconds, client=client, **kw)
