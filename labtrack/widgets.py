"""Notebook widgets (ipywidgets): `Enqueue` sends a task to a queue and follows it; `LiveScalars`
charts a task's scalars live. `import labtrack.widgets` (or `labtrack.widgets`) loads ipywidgets."""

from __future__ import annotations

from labtrack.sdk.enqueue_widget import Enqueue
from labtrack.sdk.widgets import LiveScalars

__all__ = ["Enqueue", "LiveScalars"]
