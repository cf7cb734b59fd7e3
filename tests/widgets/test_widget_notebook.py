"""`task.live()` in a real kernel (nbclient) against a real tracking server: local and polling modes."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

SETUP = """
import math, time
import labtrack
from labtrack.sdk.widgets import LiveScalars
task = labtrack.Task.init(project_name="widgets", task_name="live chart")
chart = task.live(refresh_hz=20)
chart
"""

# 200k points with a single-iteration spike, reported as fast as the loop goes (short pauses let
# the redraw thread run, as a real training step would).
TRAIN = """
logger = task.get_logger()
for i in range(200_000):
    logger.report_scalar("loss", "train", 1000.0 if i == 123_457 else math.exp(-i / 50_000), i)
    logger.report_scalar("accuracy", "val", 1 - math.exp(-i / 50_000), i) if i % 100 == 0 else None
    if i % 20_000 == 0:
        time.sleep(0.06)
time.sleep(0.3)  # the trailing redraw
traces = {t.meta: t for t in chart.data}
loss = traces["loss/train"]
print("LOCAL", len(loss.x), max(loss.y), chart.model.frames_taken, sorted(traces))
assert len(loss.x) <= 2000 and max(loss.y) == 1000.0 and loss.x[-1] == 199_999
assert 2 <= chart.model.frames_taken <= 20 * 30
"""

FOLLOW = """
task.close()
remote = LiveScalars(task.id, max_points=1000)  # a finished task: polled from the server
remote._lt_thread.join(30)
traces = {t.meta: t for t in remote.data}
print("REMOTE", len(traces["loss/train"].x), max(traces["loss/train"].y), remote.layout.title.text)
assert not remote._lt_thread.is_alive()
assert len(traces["loss/train"].x) <= 1000 and max(traces["loss/train"].y) == 1000.0
assert "completed" in remote.layout.title.text
assert set(traces) == {"loss/train", "accuracy/val"}
"""


def test_live_chart_in_a_real_kernel(tracking_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in tracking_server.env.items():
        if name.startswith("LABTRACK_"):
            monkeypatch.setenv(name, value)  # the kernel inherits this process's environment
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in (SETUP, TRAIN, FOLLOW)]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    widget_views = [o for o in nb.cells[0].outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widget_views, nb.cells[0].outputs  # the chart is a displayed widget
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.outputs if o.get("output_type") == "stream")
    assert "LOCAL" in printed and "REMOTE" in printed, printed
    # What the chart showed is what the server stored.
    import requests

    tasks = requests.get(f"{tracking_server.api}/tasks", headers=tracking_server.headers, timeout=10).json()["items"]
    (task,) = tasks
    assert task["status"] == "completed"
    assert task["last_metrics"]["loss"]["train"]["max"] == 1000.0
    assert task["last_metrics"]["loss"]["train"]["count"] == 200_000


def test_the_chart_sends_updates_while_the_cell_is_still_running(tracking_server, monkeypatch) -> None:
    """What the browser would receive: widget updates on iopub before the loop's cell finishes."""
    from jupyter_client.manager import start_new_kernel

    for name, value in tracking_server.env.items():
        if name.startswith("LABTRACK_"):
            monkeypatch.setenv(name, value)
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        def run(code: str) -> list[dict]:
            msg_id = kc.execute(code)
            messages = []
            deadline = time.monotonic() + 120  # the cell's messages keep coming: bound the whole cell
            while True:
                assert time.monotonic() < deadline, f"the cell did not finish within 120 s: {code!r}"
                msg = kc.get_iopub_msg(timeout=60)
                messages.append(msg)
                if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                        and msg["content"]["execution_state"] == "idle"):
                    return messages

        run("import labtrack\ntask = labtrack.Task.init(project_name='w', task_name='comm')\n"
            "chart = task.live(refresh_hz=10)\ndisplay(chart)")
        loop = run("import time\nlog = task.get_logger()\nfor i in range(30):\n"
                   "    log.report_scalar('loss', 'train', 1 / (i + 1), i)\n    time.sleep(0.1)\n"
                   "print('loop done')")
        done = next(i for i, m in enumerate(loop) if m["msg_type"] == "stream" and "loop done" in m["content"]["text"])
        updates = [m for m in loop[:done] if m["msg_type"] == "comm_msg"]
        assert len(updates) >= 3, [m["msg_type"] for m in loop]  # several redraws mid-loop, not one at the end
        run("task.close()")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
