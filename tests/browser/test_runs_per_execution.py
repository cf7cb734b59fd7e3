"""One run per execution of a tracked notebook, a status that tells the truth, and a sidebar that
keeps its rows when a refresh fails — in a real JupyterLab, in Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import requests
from polling import wait_for

PROJECT, NAME = "cases", "digits-sgd"

SWEEP = [
    "import labtrack\n"
    f"task = labtrack.Task.init(project_name={PROJECT!r}, task_name={NAME!r})\n"
    "params = task.connect({'lr': 0.1})\nprint('TASK', task.id)",
    "log = task.get_logger()\nfor i in range(50):\n"
    "    log.report_scalar('loss', 'train', params['lr'] / (i + 1), i)\nprint('reported', i + 1, 'points')",
    "task.close()\nprint('closed')",
]


def write_notebook(root: Path, name: str, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    path = root / name
    nbformat.write(nb, path)
    return path


class Api:
    def __init__(self, server):
        self.base, self.headers = server.api, server.headers

    def get(self, path: str, **params) -> dict:
        response = requests.get(f"{self.base}{path}", params=params, headers=self.headers, timeout=10)
        response.raise_for_status()
        return response.json()

    def tasks(self) -> list[dict]:
        return self.get("/tasks", limit=100)["items"]

    def frozen(self, task_id: str) -> dict:
        """What must never change once a run has ended."""
        task = self.get(f"/tasks/{task_id}")
        points = self.get(f"/tasks/{task_id}/scalars", metric="loss", variant="train", limit=1000)
        console = self.get(f"/tasks/{task_id}/console", tail=10000)["items"]
        keep = ("status", "completed", "last_update", "last_iteration", "hyperparams", "name", "project_id")
        return {key: task[key] for key in keep} | {
            "points": (points["iterations"], points["values"]),
            "console": len(console),
        }


def metadata_task_id(path: Path) -> str | None:
    return json.loads(path.read_text())["metadata"].get("labtrack", {}).get("task_id")


def track(page, path: str) -> None:
    page.command("docmanager:open", {"path": path})
    page.wait_notebook_ready(path)
    button = f".jp-NotebookPanel:not(.lm-mod-hidden) .lt-track-button"
    page.page.click(button)
    page.page.wait_for_selector(f"{button}[data-state=tracked]", timeout=60_000)


def output_text(page) -> str:
    return page.page.inner_text(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")


@pytest.mark.labtrack_settings({"refreshInterval": 1})
def test_rerunning_a_tracked_notebook_after_a_reload_is_a_second_run(lab_page, lab, tracking_server):
    api = Api(tracking_server)
    path = write_notebook(lab.root_dir, "sweep.ipynb", SWEEP)
    page = lab_page
    track(page, "sweep.ipynb")
    page.run_all_cells("sweep.ipynb")
    page.page.wait_for_selector(".jp-OutputArea-output:has-text('closed')", timeout=90_000)

    # Task.init adopted the tracked task: one task, in the project and name the notebook asks for.
    (first,) = api.tasks()
    assert (first["project_name"], first["name"], first["status"]) == (PROJECT, NAME, "completed")
    assert f"TASK {first['id']}" in output_text(page)
    wait_for(lambda: metadata_task_id(path) == first["id"], what="the notebook metadata to name the run")
    before = api.frozen(first["id"])
    assert len(before["points"][0]) == 50 and before["hyperparams"]["General"]["lr"]["value"] == "0.1"

    # Reload the page: the notebook comes back "Tracked" without anything written.
    page.open()
    page.command("docmanager:open", {"path": "sweep.ipynb"})
    page.wait_notebook_ready("sweep.ipynb")
    button = ".jp-NotebookPanel:not(.lm-mod-hidden) .lt-track-button"
    page.page.wait_for_selector(f"{button}[data-state=tracked]", timeout=60_000)
    assert api.frozen(first["id"]) == before and len(api.tasks()) == 1

    # Press Track again (as the user did) and re-run with another lr.
    page.page.evaluate(
        """() => {
            const panel = window.jupyterapp.shell.currentWidget;
            panel.content.model.cells.get(0).sharedModel.setSource(
                panel.content.model.cells.get(0).sharedModel.getSource().replace("'lr': 0.1", "'lr': 0.01"));
        }"""
    )
    page.page.click(button)
    page.page.wait_for_selector(f"{button}[data-state=tracked]", timeout=60_000)
    page.run_all_cells("sweep.ipynb")
    wait_for(lambda: [t for t in api.tasks() if t["id"] != first["id"] and t["status"] == "completed"], timeout=90,
             what="the second run to end")

    tasks = api.tasks()
    assert len(tasks) == 2, [(t["name"], t["status"]) for t in tasks]
    second = next(t for t in tasks if t["id"] != first["id"])
    page.page.wait_for_selector(f".jp-OutputArea-output:has-text('TASK {second['id']}')")
    assert (second["project_name"], second["name"], second["status"]) == (PROJECT, NAME, "completed")
    assert (second["run_number"], second["run_count"]) == (2, 2)
    assert second["hyperparams"]["General"]["lr"]["value"] == "0.01"
    assert api.frozen(first["id"]) == before  # parameters, points, console: untouched
    wait_for(lambda: metadata_task_id(path) == second["id"], what="the metadata to name the newest run")
    page.shot("01-second-run-tracked", ".jp-NotebookPanel:not(.lm-mod-hidden)")

    # The sidebar lists them as numbered runs of one notebook.
    page.open_sidebar(PROJECT)
    page.wait_rows([NAME, NAME])
    numbers = page.page.eval_on_selector_all(".lt-task-row .lt-run-number", "els => els.map(e => e.textContent)")
    assert sorted(numbers) == ["#1", "#2"]
    page.shot("02-two-runs-in-the-sidebar", ".lt-sidebar")


INTERRUPTED = [
    "import time\nimport labtrack\ntask = labtrack.Task.current_task()\nprint('TASK', task.id)",
    "log = task.get_logger()\nfor i in range(4500):\n    log.report_scalar('loss', 'train', 1 / (i + 1), i)\n"
    "    time.sleep(0.01)",
]
FAILING = ["import no_such_module_anywhere", "print('never runs')"]


@pytest.mark.labtrack_settings({"refreshInterval": 1})
def test_an_interrupted_run_ends_stopped_and_a_failing_one_failed(lab_page, lab, tracking_server):
    api = Api(tracking_server)
    write_notebook(lab.root_dir, "long.ipynb", INTERRUPTED)
    write_notebook(lab.root_dir, "broken.ipynb", FAILING)
    page = lab_page

    # Interrupted at some iteration of 4,500: "last cell interrupted" while the kernel lives,
    # stopped once it restarts.
    track(page, "long.ipynb")
    page.run_all_cells("long.ipynb")
    long_id = wait_for(lambda: metadata_task_id(lab.root_dir / "long.ipynb"), what="the tracked task id")
    wait_for(lambda: (api.get(f"/tasks/{long_id}")["last_iteration"] or 0) >= 50, timeout=60, what="the loop")
    page.command("notebook:interrupt-kernel")
    page.page.wait_for_selector(".jp-OutputArea-output:has-text('KeyboardInterrupt')", timeout=30_000)
    wait_for(lambda: api.get(f"/tasks/{long_id}")["status_message"] == "last cell interrupted",
             what="the interrupted note")
    assert api.get(f"/tasks/{long_id}")["status"] == "in_progress"

    # A notebook whose first cell fails on import: "last cell failed" in the sidebar meanwhile.
    track(page, "broken.ipynb")
    page.run_all_cells("broken.ipynb")
    page.page.wait_for_selector(".jp-OutputArea-output:has-text('ModuleNotFoundError')", timeout=60_000)
    broken_id = wait_for(lambda: metadata_task_id(lab.root_dir / "broken.ipynb"), what="the tracked task id")
    page.open_sidebar("notebooks")
    note = f".lt-task-row[data-task-id='{broken_id}'] .lt-status-note"
    page.page.wait_for_selector(f"{note}:has-text('last cell failed')", timeout=30_000)
    assert page.page.inner_text(note) == "in progress · last cell failed"
    page.page.wait_for_selector(f".lt-task-row[data-task-id='{long_id}'] .lt-status-note:has-text('last cell interrupted')")
    page.shot("03-last-cell-failed", ".lt-sidebar")

    # The kernels end (restart one, shut the other down): stopped and failed, with the traceback.
    page.page.evaluate(
        """path => [...window.jupyterapp.shell.widgets('main')].find(w => w.context && w.context.path === path)
            .sessionContext.restartKernel()""",
        "long.ipynb",
    )
    wait_for(lambda: api.get(f"/tasks/{long_id}")["status"] == "stopped", timeout=60, what="the interrupted run to stop")
    stopped = api.get(f"/tasks/{long_id}")
    assert 50 <= stopped["last_iteration"] < 4499 and stopped["status_message"] == "last cell interrupted"
    page.page.evaluate(
        """path => [...window.jupyterapp.shell.widgets('main')].find(w => w.context && w.context.path === path)
            .sessionContext.shutdown()""",
        "broken.ipynb",
    )
    wait_for(lambda: api.get(f"/tasks/{broken_id}")["status"] == "failed", timeout=60, what="the failing run to fail")
    failed = api.get(f"/tasks/{broken_id}")
    assert "ModuleNotFoundError: No module named 'no_such_module_anywhere'" in failed["status_reason"]
    page.page.wait_for_selector(f".lt-task-row[data-task-id='{broken_id}'] .lt-status-failed",
                                timeout=30_000)
    page.page.wait_for_selector(f".lt-task-row[data-task-id='{long_id}'] .lt-status-stopped")
    page.shot("04-stopped-and-failed", ".lt-sidebar")


@pytest.mark.labtrack_settings({"refreshInterval": 1})
@pytest.mark.expected_console_errors("502", "Failed to load resource")
def test_a_failed_poll_marks_the_rows_stale_and_keeps_them(lab_page, lab, tracking_server, seeder):
    for lr in (0.1, 0.01):
        seeder.task("outage", "digits-sgd", {"lr": lr})
    page = lab_page
    page.open_sidebar("outage")
    page.wait_rows(["digits-sgd", "digits-sgd"])

    tracking_server.stop()  # every poll now fails (the proxy answers 502)
    page.page.wait_for_selector(".lt-stale", timeout=20_000)
    assert page.row_names() == ["digits-sgd", "digits-sgd"]
    assert page.page.query_selector(".lt-error") is None
    assert "did not answer" in page.page.get_attribute(".lt-stale", "title")
    page.shot("05-stale-badge", ".lt-sidebar")
    for _ in range(3):  # several failed polls in a row change nothing either
        page.page.wait_for_timeout(1_000)
        assert page.page.query_selector(".lt-error") is None and len(page.row_names()) == 2

    tracking_server.start()
    page.page.wait_for_selector(".lt-stale", state="detached", timeout=20_000)
    assert page.row_names() == ["digits-sgd", "digits-sgd"]
