"""`Enqueue`: a notebook widget that sends a task to a queue and follows the remote run in place.

Queue dropdown (with each queue's pending tasks and workers, refreshed while the widget is open),
the task's parameters as editable fields, an Enqueue button; then the remote status (queued →
running on <worker> → completed / failed) and the live chart of the run (`LiveScalars`, polling
the server) below it, in the same output.

What the button enqueues:
- a task this process runs (the default: the current task of the notebook) is handed to an
  agent with `execute_remotely` (the saved notebook is snapshotted; the kernel stays);
- a created, stopped or failed task is enqueued as it is;
- any other (completed, running elsewhere, ...) is cloned and the clone is enqueued.
Edited parameters are set on the task that is enqueued, so its `connect()` returns them there.

Every server call runs on a background thread with a bounded retry and a stop event; a problem
shows in the status line, never as an exception in the kernel.
"""

from __future__ import annotations

import html
import threading
from typing import Any, Callable, Protocol

import ipywidgets as widgets

from labtrack.sdk import remote
from labtrack.sdk.client import ApiClient
from labtrack.sdk.errors import LabtrackError
from labtrack.sdk.params import decode_value, encode_value
from labtrack.sdk.widgets import LiveScalars

__all__ = ["Enqueue", "TaskClass"]

ENQUEUEABLE = ("created", "stopped", "failed")


class TaskClass(Protocol):
    """The `Task` class methods the widget uses, handed in (this module sits below `task.py`)."""

    # Called with keywords as `Task`'s classmethods take them: current_task(), get_task(id, client=),
    # clone(task, client=), enqueue(task, queue_name=, client=).
    def current_task(self) -> Any: ...

    def get_task(self, *args: Any, **kwargs: Any) -> Any: ...

    def clone(self, *args: Any, **kwargs: Any) -> Any: ...

    def enqueue(self, *args: Any, **kwargs: Any) -> Any: ...


def _field_for(name: str, value: Any) -> widgets.Widget:
    """An input for one parameter that gives back a value of the same type."""
    style = {"description_width": "initial"}
    layout = widgets.Layout(width="auto")
    if isinstance(value, bool):
        return widgets.Checkbox(value=value, description=name, indent=False)
    if isinstance(value, int):
        return widgets.IntText(value=value, description=name, style=style, layout=layout)
    if isinstance(value, float):
        return widgets.FloatText(value=value, description=name, style=style, layout=layout)
    # Anything else is edited as the text its type encodes to (JSON for lists and dicts).
    return widgets.Text(value=encode_value(value)["value"], description=name, style=style, layout=layout)


class Enqueue(widgets.VBox):
    """Pick a queue, edit the parameters, enqueue, then watch the remote run (see the module doc).

    Args:
        task: a `Task`, a task id, or None for this process's current task.
        tasks: the `Task` class (`labtrack.widgets.Enqueue` and `task.enqueue_widget()` pass it).
        queue_name: the queue selected at first (default: `default`).
        refresh_seconds: how often the queue counts and the remote status are read.
        client: the `ApiClient` to use (default: the task's, else from the environment).
    """

    def __init__(self, task: Any, tasks: TaskClass, queue_name: str = remote.DEFAULT_QUEUE,
                 refresh_seconds: float = 2.0, client: ApiClient | None = None):
        self.queue = widgets.Dropdown(description="Queue", options=[(queue_name, queue_name)], value=queue_name)
        self.button = widgets.Button(description="Enqueue", button_style="primary", icon="play")
        self.status = widgets.HTML()
        self.fields: dict[str, widgets.Widget] = {}
        self.chart: LiveScalars | None = None
        self.enqueued_task_id: str | None = None
        self.task_status = ""  # the enqueued task's status as last read
        self.error = ""
        self.refresh_seconds = max(0.1, float(refresh_seconds))
        self._stop = threading.Event()
        self._types: dict[str, str] = {}  # each text field's parameter type (see params.py)
        self._queue_name = queue_name
        self._worker_names: dict[str, str] = {}
        self._tasks = tasks
        self._task = tasks.current_task() if task is None else task
        self._client = client or (self._task.client if self._task is not None and not isinstance(self._task, str)
                                  and not self._task.offline else ApiClient.from_environment())
        self._params = widgets.VBox()
        super().__init__([widgets.HBox([self.queue, self.button]), self._params, self.status])
        self.button.on_click(lambda _button: self.enqueue())
        if self._task is None:
            self._fail("No task: call labtrack.Task.init() in this notebook first, or pass Enqueue(task=...).")
            return
        self._show_parameters()
        self._set_status(f"ready: pick a queue and press Enqueue ({self._task_id()[:8]})")
        self._queues_thread = self._background(self._refresh_queues_loop, "queues")

    # -- what the button does ------------------------------------------------------------------

    def parameters(self) -> dict[str, Any]:
        """The fields' values as `{"Section/name": value}`, in each parameter's own type."""
        out: dict[str, Any] = {}
        for key, field in self.fields.items():
            value = field.value
            out[key] = decode_value(value, self._types[key]) if isinstance(field, widgets.Text) else value
        return out

    def enqueue(self) -> str | None:
        """Set the edited parameters, enqueue the task (see the module doc) and start following it.

        Returns the id of the task enqueued, or None when it failed (the status line says why).
        """
        if self._task is None or self.enqueued_task_id is not None:
            return self.enqueued_task_id
        self.button.disabled = True
        queue_name = str(self.queue.value)
        try:
            task_id = self._enqueue_task(queue_name)
        except LabtrackError as exc:
            self.button.disabled = False
            self._fail(f"could not enqueue: {exc}")
            return None
        self.enqueued_task_id = task_id
        self._queue_name = queue_name
        # What the run was sent with is fixed now: leave nothing that looks editable.
        for field in (self.queue, *self.fields.values()):
            field.disabled = True
        self.error = ""
        self._set_status(f"queued in {html.escape(queue_name)}", task_id)
        self.chart = LiveScalars(task_id, client=self._client)
        self.children = (*tuple(self.children), self.chart)  # type: ignore[has-type]
        self._background(self._follow_loop, "follow")
        return task_id

    def _enqueue_task(self, queue_name: str) -> str:
        task = self._handle()
        params = self.parameters()
        if task is self._tasks.current_task() and not task._closed:
            if params:
                task.set_parameters(params)
            handed = task.execute_remotely(queue_name=queue_name, exit_process=False)
            assert handed is not None  # only None in an agent's run, which never shows this widget
            return handed.id
        status = task.status
        if status not in ENQUEUEABLE:
            task = self._tasks.clone(task, client=self._client)  # a finished run is run again as a copy
        if params:
            task.set_parameters(params)
        self._tasks.enqueue(task, queue_name=queue_name, client=self._client)
        return str(task.id)

    # -- display -------------------------------------------------------------------------------

    def _task_id(self) -> str:
        return self._task if isinstance(self._task, str) else str(self._task.id)

    def _handle(self) -> Any:
        """The `Task` (a handle read from the server when the widget was given an id)."""
        return self._tasks.get_task(self._task, client=self._client) if isinstance(self._task, str) else self._task

    def _show_parameters(self) -> None:
        try:
            values = self._handle().get_parameters()
        except LabtrackError as exc:
            self._fail(f"could not read the task's parameters: {exc}")
            return
        for key, value in sorted(values.items()):
            self._types[key] = encode_value(value)["type"]
            self.fields[key] = _field_for(key, value)
        header = widgets.HTML("<b>Parameters</b>" if self.fields else "<i>This task has no parameters.</i>")
        self._params.children = (header, *self.fields.values())

    def _set_status(self, text: str, task_id: str | None = None) -> None:
        suffix = f" · task {task_id[:8]}" if task_id else ""
        self.status.value = f"<span class='labtrack-enqueue-status'>{text}{suffix}</span>"

    def _fail(self, message: str) -> None:
        self.error = message
        self.button.disabled = self._task is None or self.enqueued_task_id is not None
        self.status.value = f"<span style='color: var(--jp-error-color1, #c00)'>{html.escape(message)}</span>"

    # -- background work -----------------------------------------------------------------------

    def _background(self, target: Callable[[], None], what: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=f"labtrack-enqueue-{what}", daemon=True)
        thread.start()
        return thread

    def _refresh_queues_loop(self) -> None:
        """Keep the dropdown's pending counts live until the task is enqueued or the widget closes."""
        failures = 0
        while not self._stop.is_set() and self.enqueued_task_id is None:
            try:
                self.refresh_queues()
                failures = 0
            except LabtrackError as exc:
                failures += 1
                if failures >= 5:
                    self._fail(f"stopped reading the queues: {exc}")
                    return
            self._stop.wait(self.refresh_seconds * (2 ** failures))

    def refresh_queues(self) -> None:
        """Read the queues once and relabel the dropdown (`gpu · 3 pending · 1 worker`)."""
        items = self._client.get("/queues").get("items", [])
        options = []
        for queue in items:
            workers = len(queue.get("workers") or [])
            label = (f"{queue['name']} · {queue.get('pending', 0)} pending · "
                     f"{workers} worker{'' if workers == 1 else 's'}")
            options.append((label, queue["name"]))
        if not options or options == list(self.queue.options):
            return
        chosen = self.queue.value
        names = [value for _, value in options]
        with self.queue.hold_trait_notifications():
            self.queue.options = options
            self.queue.value = chosen if chosen in names else names[0]

    def _follow_loop(self) -> None:
        """Show the enqueued task's status until it ends (the chart follows its scalars itself)."""
        task_id = self.enqueued_task_id
        assert task_id is not None
        failures = 0
        while not self._stop.is_set():
            try:
                record = self._client.get(f"/tasks/{task_id}")
                failures = 0
            except LabtrackError as exc:
                failures += 1
                if failures >= 8:
                    self._fail(f"stopped following task {task_id[:8]}: {exc}")
                    return
                self._stop.wait(min(30.0, self.refresh_seconds * 2 ** failures))
                continue
            self.task_status = record["status"]
            self._set_status(self._describe(record), task_id)
            if record["status"] in remote.ENDED_STATUSES:
                return
            self._stop.wait(self.refresh_seconds)

    def _describe(self, record: dict[str, Any]) -> str:
        status = record["status"]
        if status == "queued":
            return f"queued in {html.escape(self._queue_name)}"
        if status == "in_progress":
            return f"running on {html.escape(self._worker_name(record.get('worker')))}"
        if status == "failed":
            reason = (record.get("status_reason") or "").strip().splitlines()
            return f"failed: {html.escape(reason[-1])}" if reason else "failed"
        return html.escape(status)

    def _worker_name(self, worker_id: str | None) -> str:
        if not worker_id:
            return "a worker"
        if worker_id not in self._worker_names:
            try:
                self._worker_names[worker_id] = self._client.get(f"/workers/{worker_id}")["name"]
            except LabtrackError:
                return worker_id[:8]
        return self._worker_names[worker_id]

    def close(self) -> None:
        """Stop reading the server and close the widget (and its chart)."""
        self._stop.set()
        if self.chart is not None:
            self.chart.close()
        super().close()
