"""Track in a real JupyterLab: the toolbar button snapshots the notebook, attaches the kernel,
and what the notebook then logs shows up in the task view."""

from __future__ import annotations

import json

import nbformat
import pytest
import requests
from polling import wait_for as wait_until
from seed import Seeder

CELLS = [
    "import labtrack\ntask = labtrack.Task.current_task()\nprint('attached to', task.id)",
    "logger = task.get_logger()\nfor i in range(25):\n    logger.report_scalar('loss', 'train', 1.0 / (i + 1), i)\ntask.flush()\nprint('reported')",
]


@pytest.mark.labtrack_settings({"refreshInterval": 1})
def test_track_button_attaches_kernel_and_task_view_shows_metrics(lab_page, lab, tracking_server):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    path = lab.root_dir / "train.ipynb"
    nbformat.write(nb, path)

    page = lab_page
    page.command("docmanager:open", {"path": "train.ipynb"})
    page.page.wait_for_selector(".lt-track-button[data-state=untracked]")
    page.wait_notebook_ready("train.ipynb")
    page.page.click(".lt-track-button")
    page.page.wait_for_selector(".lt-track-button[data-state=tracked]", timeout=60_000)
    page.shot("01-tracked", ".jp-NotebookPanel-toolbar")

    # The task id is kept in the saved notebook; the task holds the exact cells.
    task_id = json.loads(path.read_text())["metadata"]["labtrack"]["task_id"]
    task = requests.get(f"{tracking_server.api}/tasks/{task_id}", headers=tracking_server.headers, timeout=10).json()
    sources = [c["source"] for c in task["script"]["notebook"]["cells"]]
    assert ["".join(s) if isinstance(s, list) else s for s in sources] == CELLS
    assert task["script"]["notebook_path"].endswith("train.ipynb")

    page.run_all_cells("train.ipynb")
    page.page.wait_for_selector(".jp-OutputArea-output:has-text('reported')", timeout=60_000)
    assert f"attached to {task_id}" in page.page.inner_text(".jp-Notebook")

    def loss_points() -> int:
        items = requests.get(f"{tracking_server.api}/tasks/{task_id}/metrics", headers=tracking_server.headers, timeout=10).json()["items"]
        return sum(m["count"] for m in items if m["metric"] == "loss")

    wait_until(lambda: loss_points() == 25)

    # Open the task from the sidebar; its scalar chart has the 25 points.
    page.open_sidebar(task["project_name"])
    page.page.click(f".lt-task-row[data-task-id='{task_id}']")
    page.page.wait_for_selector(f".lt-task-view[data-task-id='{task_id}']")
    page.page.click(f"#labtrack-task-{task_id} .lt-tab[data-tab=Scalars]")
    chart = f"#labtrack-task-{task_id} .lt-chart[data-metric=loss] .js-plotly-plot"
    page.page.wait_for_selector(chart)
    points = page.page.eval_on_selector(chart, "el => el.data.filter(t => t.mode && t.mode.startsWith('lines') && !t.fill).map(t => t.x.length)")
    assert points == [25]
    page.shot("02-task-scalars")

    # The task is still in progress, so the open view follows it: new points and console lines
    # show up without a click (refreshInterval is 1 s in this test).
    seeder = Seeder(tracking_server.api, tracking_server.api_key)
    seeder.curve(task_id, "loss", "train", [0.01] * 10, start=25)
    page.page.wait_for_function(
        "sel => document.querySelector(sel).data.some(t => !t.fill && t.x.length === 35)", arg=chart
    )
    page.page.click(f"#labtrack-task-{task_id} .lt-tab[data-tab=Console]")
    page.page.wait_for_selector(f"#labtrack-task-{task_id} .lt-console")
    seeder.events(task_id, [{"type": "console", "text": "a line from later\n", "stream": "stdout"}])
    page.page.wait_for_selector(f"#labtrack-task-{task_id} .lt-console:has-text('a line from later')")
    page.page.click(f"#labtrack-task-{task_id} .lt-tab[data-tab=Code]")
    assert "report_scalar" in page.page.inner_text(f"#labtrack-task-{task_id} .lt-cells")
    page.page.click(f"#labtrack-task-{task_id} .lt-tab[data-tab=Overview]")
    page.shot("03-task-overview")

    # Saving a tracked notebook refreshes the snapshot.
    page.command("docmanager:open", {"path": "train.ipynb"})
    page.command("notebook:insert-cell-below")
    page.command("notebook:enter-edit-mode")
    page.page.keyboard.type("print('a third cell')")
    page.command("docmanager:save")

    def cells_in_snapshot() -> int:
        got = requests.get(f"{tracking_server.api}/tasks/{task_id}", headers=tracking_server.headers, timeout=10).json()
        return len(got["script"]["notebook"]["cells"])

    wait_until(lambda: cells_in_snapshot() == 3)
