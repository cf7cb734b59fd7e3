"""The SDK inside a real Jupyter kernel: errors in cells, close, a second task (nbclient); how a notebook
task ends, and tracked notebooks (one run per execution, Task.init adopting the tracked task)."""

from __future__ import annotations

import threading
import time

import nbformat
import pytest
from nbclient import NotebookClient
from polling import wait_for

from tests.sdk.kernel_session import Kernel

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


def _printed_id(text: str, tag: str) -> str:
    """The id printed as `<tag> <id>` (other lines, such as the SDK's own notice, are skipped)."""
    return next(line.split()[1] for line in text.splitlines() if line.startswith(tag + " "))


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
    task_id = _printed_id(out[0], "TASK")
    task2_id = _printed_id(out[5], "TASK2")
    assert task2_id != task_id
    task = scripts.get(f"/tasks/{task_id}")
    assert task["status"] == "completed"
    its, _ = scripts.series(task_id, "loss", "train")
    assert its == list(range(200))
    console = "".join(i["text"] for i in scripts.get(f"/tasks/{task_id}/console")["items"])
    assert "ValueError: cell blew up" in console and "after the error" in console
    assert scripts.get(f"/tasks/{task2_id}")["status"] == "completed"
    assert scripts.get(f"/tasks/{_printed_id(out[6], 'TASK3')}")["status"] == "stopped"


def _abort_third_task(scripts, nb, problems: list[str]) -> None:
    """From outside the kernel: once the third task reports, stop it (forced: the server marks it
    stopped at once, as the UI's abort may; the kernel learns it from its next heartbeat)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = _outputs(nb.cells[6])
        if "TASK3 " in text:
            task_id = _printed_id(text, "TASK3")
            if scripts.get(f"/tasks/{task_id}")["last_iteration"]:
                scripts.post(f"/tasks/{task_id}/stop", {"force": True})
                return
        time.sleep(0.1)
    problems.append("the third task reported no point within 120 s, so it was never stopped")


# -- how a notebook task ends, and tracked notebooks (the lab extension's Track) -----------------
# A real kernel driven with jupyter_client, as JupyterLab drives it: cells, silent code, interrupt,
# restart and shutdown (whose atexit hooks end the task).

START = "import labtrack\ntask = labtrack.Task.init('nb/status', {name!r})\nprint('TASK', task.id)"
LOOP = ("import time\nlog = task.get_logger()\nfor i in range(4500):\n"
        "    log.report_scalar('loss', 'train', 1 / (i + 1), i)\n    time.sleep(0.01)")


@pytest.fixture
def kernels(scripts):
    """kernels() → a started `Kernel` with the tracking server's environment, shut down at teardown."""
    started: list[Kernel] = []

    def start() -> Kernel:
        kernel = Kernel(scripts.env(), scripts.tmp_path)
        started.append(kernel)
        return kernel

    yield start
    for kernel in started:
        kernel.stop()


def test_a_notebook_task_ends_by_its_last_executed_cell(kernels, scripts) -> None:
    # Interrupted mid-loop: "last cell interrupted" while the kernel lives, stopped at shutdown.
    kernel = kernels()
    interrupted = kernel.run(START.format(name="interrupted")).task_id
    cell = kernel.start(LOOP)
    wait_for(lambda: (scripts.get(f"/tasks/{interrupted}")["last_iteration"] or 0) >= 20, timeout=60,
             what="the loop to report")
    kernel.interrupt()
    assert kernel.wait_reply(cell)["content"]["ename"] == "KeyboardInterrupt"
    wait_for(lambda: scripts.get(f"/tasks/{interrupted}")["status_message"] == "last cell interrupted",
             what="the status message to say the cell was interrupted")
    assert scripts.get(f"/tasks/{interrupted}")["status"] == "in_progress"
    kernel.stop()
    task = scripts.get(f"/tasks/{interrupted}")
    assert (task["status"], task["status_message"]) == ("stopped", "last cell interrupted"), task
    assert 20 <= task["last_iteration"] < 4499

    # A failing import: failed, with the traceback, once the kernel ends.
    kernel = kernels()
    failing = kernel.run(START.format(name="import error")).task_id
    assert kernel.run("import no_such_module_here").ename == "ModuleNotFoundError"
    wait_for(lambda: scripts.get(f"/tasks/{failing}")["status_message"].startswith("last cell failed"),
             what="the status message to say the last cell failed")
    assert scripts.get(f"/tasks/{failing}")["status"] == "in_progress"
    kernel.stop()
    task = scripts.get(f"/tasks/{failing}")
    assert task["status"] == "failed", task
    assert "ModuleNotFoundError: No module named 'no_such_module_here'" in task["status_reason"]
    assert "Traceback" in task["status_reason"]

    # An error the user then fixed: the last cell went fine, so the task completes (the message clears).
    kernel = kernels()
    fixed = kernel.run(START.format(name="fixed")).task_id
    assert kernel.run("1 / 0").ename == "ZeroDivisionError"
    assert kernel.run("x = 1").status == "ok"
    wait_for(lambda: scripts.get(f"/tasks/{fixed}")["status_message"] == "", what="the status message to clear")
    kernel.run("task.close()")
    task = scripts.get(f"/tasks/{fixed}")
    assert (task["status"], task["status_message"]) == ("completed", ""), task

    # close() right after a failed cell: failed (the last executed cell decides, close() included).
    failed_close = kernel.run(START.format(name="close after error")).task_id
    kernel.run("raise RuntimeError('bad batch')")
    kernel.run("task.close()")
    task = scripts.get(f"/tasks/{failed_close}")
    assert task["status"] == "failed" and "RuntimeError: bad batch" in task["status_reason"], task


def _track(scripts, name: str, project: str = "notebooks") -> dict:
    """What the Track button makes: a `created` task holding the notebook snapshot."""
    snapshot = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}
    return scripts.post("/tasks", {"name": name, "project_name": project,
                                   "script": {"notebook": snapshot, "notebook_path": f"{name}.ipynb"}})


ARM = "import labtrack.sdk.notebook_run; labtrack.sdk.notebook_run.track_notebook({!r})"


def test_a_tracked_notebook_adopts_its_task_and_each_execution_is_a_new_run(kernels, scripts) -> None:
    tracked = _track(scripts, "digits_sweep")
    kernel = kernels()
    armed = kernel.run(ARM.format(tracked["id"]), silent=True)
    assert armed.status == "ok" and not armed.announced
    assert scripts.get(f"/tasks/{tracked['id']}")["status"] == "created"  # arming writes nothing

    # The notebook's own Task.init adopts the tracked task, giving it the project and name it asks for.
    first = kernel.run("import labtrack\ntask = labtrack.Task.init(project_name='cases', task_name='digits-sgd')\n"
                       "task.connect({'lr': 0.1})\nprint('TASK', task.id)")
    assert first.task_id == tracked["id"]
    assert [a["task_id"] for a in first.announced] == [tracked["id"]] * 2  # started, then renamed
    assert first.announced[-1]["project_name"] == "cases" and first.announced[-1]["name"] == "digits-sgd"
    kernel.run("for i in range(50):\n    task.get_logger().report_scalar('loss', 'train', 1 / (i + 1), i)\n"
               "print('fifty points')\ntask.close()")
    task = scripts.get(f"/tasks/{tracked['id']}")
    assert (task["project_name"], task["name"], task["status"]) == ("cases", "digits-sgd", "completed")
    assert task["script"]["notebook_path"] == "digits_sweep.ipynb"
    assert [t["id"] for t in scripts.get("/tasks")["items"]] == [tracked["id"]]  # no empty shell anywhere
    before = _frozen(scripts, tracked["id"])

    # Run it again in the same kernel with another lr: the ended task is never written to again.
    second = kernel.run("task = labtrack.Task.init(project_name='cases', task_name='digits-sgd')\n"
                        "task.connect({'lr': 0.01})\nprint('TASK', task.id)")
    second_id = second.task_id
    assert second_id != tracked["id"]
    assert second.announced[0] == {"task_id": second_id, "project_id": task["project_id"], "project_name": "cases",
                                   "name": "digits-sgd", "previous_task_id": tracked["id"]}
    kernel.run("for i in range(30):\n    task.get_logger().report_scalar('loss', 'train', 0.5, i)\nprint('thirty')")
    wait_for(lambda: scripts.get(f"/tasks/{second_id}")["last_iteration"] == 29, what="the second run's points")
    run2 = scripts.get(f"/tasks/{second_id}")
    assert (run2["project_name"], run2["name"], run2["run_number"], run2["run_count"]) == ("cases", "digits-sgd", 2, 2)
    assert run2["hyperparams"]["General"]["lr"]["value"] in ("0.01", 0.01)
    assert run2["script"]["notebook_path"] == "digits_sweep.ipynb"  # the snapshot carried over

    # A restarted kernel is a new execution: its first cell starts run 3, ending run 2 by its last cell.
    kernel.restart()
    kernel.run(ARM.format(second_id), silent=True)
    third = kernel.run("import labtrack\nprint('TASK', labtrack.Task.current_task().id)")
    third_id = third.task_id
    assert third_id not in (tracked["id"], second_id) and third.announced[0]["previous_task_id"] == second_id
    assert scripts.get(f"/tasks/{second_id}")["status"] == "completed"
    assert scripts.get(f"/tasks/{third_id}")["run_number"] == 3
    assert _frozen(scripts, tracked["id"]) == before  # the first run is exactly as it ended


def _frozen(scripts, task_id: str) -> dict:
    """What must not change once a run ended: parameters, status, times, points, console."""
    task = scripts.get(f"/tasks/{task_id}")
    console = scripts.get(f"/tasks/{task_id}/console", tail=10000)["items"]
    return {key: task[key] for key in ("hyperparams", "status", "completed", "last_update", "last_iteration", "name",
                                       "project_id")} | {"points": scripts.series(task_id, "loss", "train")[0],
                                                         "console": len(console)}


def test_an_untracked_notebook_keeps_its_own_task_init(kernels, scripts) -> None:
    kernel = kernels()
    out = kernel.run("import labtrack\ntask = labtrack.Task.init('plain', 'script-like')\nprint('TASK', task.id)")
    assert not out.announced
    task = scripts.get(f"/tasks/{out.task_id}")
    assert (task["project_name"], task["name"], task["status"]) == ("plain", "script-like", "in_progress")
