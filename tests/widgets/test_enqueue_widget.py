"""The enqueue widget driven through its Python model (the ipywidgets a person clicks), against a real
server: live queue counts, edited parameters reaching the enqueued task, then the remote status and
chart while an "agent" (the API's pop, then the stored script run with LABTRACK_TASK_ID) runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import ipywidgets as widgets
import pytest
import requests
from polling import wait_for

from labtrack.sdk.client import ApiClient
from labtrack.sdk.task import Task
from labtrack.widgets import Enqueue

SCRIPT = """\
import labtrack
task = labtrack.Task.init("widgets/enqueue", "remote")
params = task.connect({"lr": 0.1, "layers": [4, 4], "use_amp": False})
print("VALUES", params["lr"], params["layers"], params["use_amp"], flush=True)
for i in range(20):
    task.get_logger().report_scalar("loss", "train", params["lr"] / (i + 1), i)
"""


class Api:
    """Plain HTTP calls to the server, as an agent or another user makes them."""

    def __init__(self, server: Any):
        self.server = server

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        resp = requests.request(method, f"{self.server.api}{path}", json=body, headers=self.server.headers, timeout=30)
        assert resp.status_code == expect, (method, path, resp.status_code, resp.text)
        return resp.json() if resp.content else None

    def pop(self, queue: str, worker_name: str) -> dict:
        worker = self.call("POST", "/workers", {"name": worker_name, "queues": [queue], "resources": {}}, 201)
        return self.call("POST", "/queues/pop", {"queues": [queue], "worker": worker["id"], "wait": 0})["task"]


@pytest.fixture
def api(tracking_server) -> Api:
    return Api(tracking_server)


@pytest.fixture
def client(tracking_server) -> ApiClient:
    return ApiClient(tracking_server.url, tracking_server.api_key)


@pytest.fixture
def opened() -> Iterator[list[Enqueue]]:
    made: list[Enqueue] = []
    yield made
    for widget in made:
        widget.close()  # its threads stop


def _task(client: ApiClient, tmp_path: Path, name: str = "train") -> Task:
    path = tmp_path / f"{name}.py"
    path.write_text(SCRIPT)
    task = Task.create("widgets/enqueue", name, script=path, requirements=[], client=client)
    task.set_parameters({"General/lr": 0.1, "General/layers": [4, 4], "General/use_amp": False, "Args/epochs": 2})
    return task


def _status(widget: Enqueue) -> str:
    return widget.status.value


def test_enqueue_with_edited_parameters_then_follow_the_remote_run(tracking_server, api, client, opened,
                                                                   tmp_path) -> None:
    api.call("POST", "/queues", {"name": "gpu"}, 201)
    filler = _task(client, tmp_path, "filler")
    Task.enqueue(filler, queue_name="gpu")
    task = _task(client, tmp_path)
    widget = Enqueue(task, refresh_seconds=0.2, client=client)
    opened.append(widget)

    # The parameters, each as an input of its own type.
    fields = widget.fields
    assert list(fields) == ["Args/epochs", "General/layers", "General/lr", "General/use_amp"]
    assert isinstance(fields["Args/epochs"], widgets.IntText) and isinstance(fields["General/lr"], widgets.FloatText)
    assert isinstance(fields["General/use_amp"], widgets.Checkbox)
    assert isinstance(fields["General/layers"], widgets.Text) and fields["General/layers"].value == "[4, 4]"
    # The queues with their live pending counts.
    wait_for(lambda: ("gpu · 1 pending · 0 workers", "gpu") in widget.queue.options, timeout=20,
             what=f"the gpu queue's pending count in the dropdown (options: {widget.queue.options})")
    api.call("POST", "/queues", {"name": "cpu"}, 201)
    wait_for(lambda: "cpu" in [v for _, v in widget.queue.options], timeout=20, what="a new queue in the dropdown")

    widget.queue.value = "gpu"
    fields["General/lr"].value = 0.5
    fields["General/layers"].value = "[8]"
    fields["General/use_amp"].value = True
    fields["Args/epochs"].value = 9
    widget.button.click()
    assert widget.error == "" and widget.enqueued_task_id == task.id, widget.error
    assert widget.button.disabled
    assert [e["task_id"] for e in api.call("GET", "/queues/gpu/entries")["items"]] == [filler.id, task.id]
    assert Task.get_task(task.id, client=client).get_parameters() == {
        "General/lr": 0.5, "General/layers": [8], "General/use_amp": True, "Args/epochs": 9}
    wait_for(lambda: "queued in gpu" in _status(widget), timeout=20, what="the queued status")
    assert widget.chart is not None and widget.chart in widget.children  # the chart in the same output

    # An agent takes it (the filler leaves the queue first).
    api.call("DELETE", f"/queues/gpu/entries/{filler.id}", expect=204)
    popped = api.pop("gpu", "gpu-box")
    assert popped["id"] == task.id
    wait_for(lambda: "running on gpu-box" in _status(widget), timeout=20,
             what=f"'running on gpu-box' (status: {_status(widget)})")
    env = dict(tracking_server.env, LABTRACK_TASK_ID=task.id, LABTRACK_FLUSH_INTERVAL="0.2")
    proc = subprocess.run([sys.executable, "-c", popped["script"]["diff"]], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr
    assert "VALUES 0.5 [8] True" in proc.stdout  # the edited values reached the remote run's connect()
    wait_for(lambda: widget.task_status == "completed" and "completed" in _status(widget), timeout=20,
             what=f"the completed status (status: {_status(widget)})")
    chart = widget.chart
    wait_for(lambda: ("loss", "train") in chart.model._server_series and chart._lt_points >= 20, timeout=20,
             what="the remote run's 20 points in the chart")
    assert chart.data[0].y[0] == 0.5


def test_a_finished_task_is_cloned_and_a_failure_shows_its_reason(api, client, opened, tmp_path) -> None:
    done = _task(client, tmp_path)
    api.call("POST", f"/tasks/{done.id}/start")
    api.call("POST", f"/tasks/{done.id}/complete")
    widget = Enqueue(done.id, refresh_seconds=0.2, client=client)
    opened.append(widget)
    widget.fields["General/lr"].value = 0.25
    assert widget.enqueue() is not None, widget.error
    copy_id = widget.enqueued_task_id
    assert copy_id != done.id
    copy = api.call("GET", f"/tasks/{copy_id}")
    assert copy["parent_id"] == done.id and copy["status"] == "queued"
    assert Task.get_task(copy_id, client=client).get_parameter("General/lr") == 0.25
    assert Task.get_task(done.id, client=client).get_parameter("General/lr") == 0.1  # the original is untouched
    api.pop("default", "cpu-box")
    api.call("POST", f"/tasks/{copy_id}/fail", {"reason": "Traceback ...\nValueError: boom"})
    wait_for(lambda: "failed: ValueError: boom" in _status(widget), timeout=20,
             what=f"the failure's reason (status: {_status(widget)})")
    assert widget.task_status == "failed"


def test_problems_show_in_the_widget_not_as_exceptions(api, client, opened, tmp_path) -> None:
    assert Task.current_task() is None
    lonely = Enqueue(client=client)
    opened.append(lonely)
    assert "Task.init" in lonely.error and lonely.button.disabled
    assert lonely.enqueue() is None

    api.call("POST", "/queues", {"name": "temp"}, 201)
    task = _task(client, tmp_path)
    widget = task.enqueue_widget(refresh_seconds=0.2, client=client)
    opened.append(widget)
    wait_for(lambda: "temp" in [v for _, v in widget.queue.options], timeout=20, what="the temp queue")
    widget.queue.value = "temp"
    api.call("DELETE", "/queues/temp", expect=204)  # gone before the click
    widget.button.click()
    assert widget.enqueued_task_id is None and "could not enqueue" in widget.error and "temp" in widget.error
    assert not widget.button.disabled  # pick another queue and try again
    widget.queue.value = "default"
    assert widget.enqueue() == task.id and widget.error == ""


def test_in_a_notebook_the_widget_sends_the_notebook_and_the_kernel_stays(tracking_server, api, tmp_path) -> None:
    import nbformat

    from tests.sdk.kernel_session import Kernel

    cells = ["import labtrack, labtrack.widgets\ntask = labtrack.Task.init('widgets/enqueue', 'nb')\n"
             "task.connect({'lr': 0.1})\nprint('TASK', task.id)",
             "w = labtrack.widgets.Enqueue(refresh_seconds=0.2)\nw.fields['General/lr'].value = 0.75\n"
             "print('ENQUEUED', w.enqueue(), repr(w.error))"]
    path = tmp_path / "send.ipynb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(notebook, str(path))
    env = dict(tracking_server.env, JPY_SESSION_NAME=str(path), LABTRACK_FLUSH_INTERVAL="0.2")
    env.pop("LABTRACK_TASK_ID", None)
    kernel = Kernel(env, tmp_path)
    try:
        task_id = kernel.run(cells[0]).task_id
        sent = kernel.run(cells[1])
        assert sent.status == "ok" and f"ENQUEUED {task_id} ''" in sent.stdout, (sent.stdout, sent.stderr)
        alive = kernel.run("w.close(); print('ALIVE', labtrack.Task.current_task())")
        assert alive.status == "ok" and "ALIVE None" in alive.stdout
    finally:
        kernel.stop()
    record = api.call("GET", f"/tasks/{task_id}")
    assert record["status"] == "queued" and record["script"]["entry_point"] == "send.ipynb"
    assert Task.get_task(task_id, client=ApiClient(tracking_server.url, tracking_server.api_key)).get_parameter(
        "General/lr") == 0.75
