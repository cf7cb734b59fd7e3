"""The SDK inside a real Jupyter kernel (nbclient): errors in cells, close, a second task."""

from __future__ import annotations

import threading
import time

import nbformat
from nbclient import NotebookClient

CELLS = [
    "import labtrack\ntask = labtrack.Task.init('sdk/notebook', 'nb run')\nprint('TASK', task.id)",
    "log = task.get_logger()\nfor i in range(100):\n    log.report_scalar('loss', 'train', 1 / (i + 1), i)",
    "raise ValueError('cell blew up')",
    "for i in range(100, 200):\n    log.report_scalar('loss', 'train', 1 / (i + 1), i)\nprint('after the error')",
    "task.close()\nprint('CLOSED', labtrack.Task.current_task())",
    "task2 = labtrack.Task.init('sdk/notebook', 'second')\nprint('TASK2', task2.id)\n"
    "task2.get_logger().report_scalar('x', 'y', 1.0, 0)\ntask2.mark_completed()",
    "task3 = labtrack.Task.init('sdk/notebook', 'aborted')\nprint('TASK3', task3.id)",
    "import time\nfor i in range(100000):\n    task3.get_logger().report_scalar('x', 'y', i, i)\n    time.sleep(0.01)",
    "print('kernel alive', labtrack.Task.current_task())",
]


def _outputs(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def test_notebook_kernel_survives_and_tasks_complete(scripts, monkeypatch) -> None:
    for key, value in scripts.env().items():
        if key.startswith("LABTRACK_"):
            monkeypatch.setenv(key, value)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(scripts.tmp_path)}})
    problems: list[str] = []
    stopper = threading.Thread(target=_abort_third_task, args=(scripts, nb, problems), daemon=True)
    stopper.start()
    client.execute()
    stopper.join(30)
    assert not problems, problems
    out = [_outputs(c) for c in nb.cells]
    assert nb.cells[2]["outputs"][0]["ename"] == "ValueError"
    assert "after the error" in out[3] and "CLOSED None" in out[4] and "kernel alive None" in out[8]
    assert nb.cells[7]["outputs"][-1]["ename"] == "KeyboardInterrupt"  # the abort interrupted the cell
    task_id = out[0].split()[1]
    task2_id = out[5].split()[1]
    assert task2_id != task_id
    task = scripts.get(f"/tasks/{task_id}")
    assert task["status"] == "completed"
    its, _ = scripts.series(task_id, "loss", "train")
    assert its == list(range(200))
    console = "".join(i["text"] for i in scripts.get(f"/tasks/{task_id}/console")["items"])
    assert "ValueError: cell blew up" in console and "after the error" in console
    assert scripts.get(f"/tasks/{task2_id}")["status"] == "completed"
    assert scripts.get(f"/tasks/{out[6].split()[1]}")["status"] == "stopped"


def _abort_third_task(scripts, nb, problems: list[str]) -> None:
    """From outside the kernel: once the third task reports, stop it (forced: the server marks it
    stopped at once, as the UI's abort may; the kernel learns it from its next heartbeat)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = _outputs(nb.cells[6])
        if text.startswith("TASK3"):
            task_id = text.split()[1]
            if scripts.get(f"/tasks/{task_id}")["last_iteration"]:
                scripts.post(f"/tasks/{task_id}/stop", {"force": True})
                return
        time.sleep(0.1)
    problems.append("the third task reported no point within 120 s, so it was never stopped")
