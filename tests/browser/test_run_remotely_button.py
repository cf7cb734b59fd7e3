"""Run remotely in a real JupyterLab with a real agent: press the toolbar button on a tracked
notebook, pick the `default` queue and change a parameter, watch the button go queued → running on
the agent → completed, then open the executed notebook read-only beside the original."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterator

import nbformat
import pytest
import requests
from agent_lab import Lab
from screenshots import docs_img

CELLS = [
    ("markdown", "# Training\nA small notebook sent to the GPU box."),
    ("code", "epochs = 2\nlr = 0.1"),  # tagged `parameters`
    ("code", "import time, socket\ntime.sleep(3)  # long enough to be seen running\nprint(f'trained for {epochs} epochs at lr={lr}')"),
    ("code", "from IPython.display import HTML\nHTML('<b class=\"done\">done</b> on the agent')"),
]


@pytest.fixture
def agents(tracking_server: Any, tmp_path: Path) -> Iterator[Lab]:
    lab = Lab(tracking_server, tmp_path)
    yield lab
    lab.stop_agents()


def tracked_notebook(lab: Any, tracking_server: Any) -> str:
    """A saved notebook whose metadata names a task holding its connected parameters (as after
    Track and `task.connect({'epochs': 2, 'lr': 0.1})`)."""
    headers = tracking_server.headers
    task = requests.post(f"{tracking_server.api}/tasks", headers=headers, timeout=30, json={
        "name": "train", "project_name": "gpu-runs",
        "hyperparams": {"General": {"epochs": {"value": "2", "type": "int"}, "lr": {"value": "0.1", "type": "float"}}},
    }).json()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["labtrack"] = {"task_id": task["id"], "project_id": task["project_id"]}
    for cell_type, source in CELLS:
        cell = nbformat.v4.new_code_cell(source) if cell_type == "code" else nbformat.v4.new_markdown_cell(source)
        nb.cells.append(cell)
    nb.cells[1].metadata["tags"] = ["parameters"]
    nbformat.write(nb, lab.root_dir / "train.ipynb")
    return task["id"]


def publish(shot: Path, name: str) -> None:
    shutil.copy(shot, docs_img(name))


def test_run_remotely_follows_the_agent_and_opens_the_executed_notebook(lab_page, lab, tracking_server, agents):
    tracked_id = tracked_notebook(lab, tracking_server)
    page = lab_page.page
    lab_page.command("docmanager:open", {"path": "train.ipynb"})
    lab_page.wait_notebook_ready("train.ipynb")
    page.wait_for_selector(".lt-rr-button")
    assert page.is_hidden(".lt-rr-status") and page.is_hidden(".lt-rr-open-result")

    # The dialog: queues with their pending counts and agents, and the tracked parameters.
    page.click(".lt-rr-button")
    page.wait_for_selector(".lt-rr-dialog")
    options = page.eval_on_selector_all(".lt-rr-queue option", "els => els.map(e => e.textContent)")
    assert options == ["default · 0 waiting · no agent"]
    assert page.is_visible(".lt-rr-warn")  # no agent pulls it yet
    params = page.eval_on_selector_all(".lt-rr-params tr", "rows => rows.map(r => r.dataset.param)")
    assert params == ["General/epochs", "General/lr"]
    page.fill(".lt-rr-params tr[data-param='General/epochs'] input", "5")
    publish(lab_page.shot("01-dialog", ".jp-Dialog-content"), "remote-dialog.png")
    page.click(".jp-Dialog-footer .jp-mod-accept")

    # Queued: nothing pulls `default` yet.
    page.wait_for_selector(".lt-rr-status[data-phase=queued]", timeout=30_000)
    assert page.text_content(".lt-rr-status") == "● queued in default"
    task_id = page.get_attribute(".lt-rr-status", "data-task-id")
    assert task_id and task_id != tracked_id
    remote = agents.get(task_id)
    assert remote["parent_id"] == tracked_id and remote["hyperparams"]["General"]["epochs"]["value"] == "5"
    publish(lab_page.shot("02-queued", ".jp-NotebookPanel-toolbar"), "remote-queued.png")

    # An agent on "the GPU box" picks it up.
    agents.start_agent("remote-box")
    page.wait_for_selector(".lt-rr-status[data-phase=running]", timeout=90_000)
    page.wait_for_function(
        "() => document.querySelector('.lt-rr-status').textContent === '● running on remote-box'", timeout=30_000
    )
    publish(lab_page.shot("03-running", ".jp-NotebookPanel-toolbar"), "remote-running.png")

    try:
        page.wait_for_selector(".lt-rr-status[data-phase=completed]", timeout=120_000)
    except Exception:
        raise AssertionError(f"remote task did not complete: {agents.get(task_id)}\n{agents.console(task_id)}\n"
                             f"{agents.agent_logs()}") from None
    page.wait_for_selector(".lt-rr-open-result", state="visible", timeout=30_000)
    publish(lab_page.shot("04-completed", ".jp-NotebookPanel-toolbar"), "remote-completed.png")

    # The status links to the task view.
    page.click(".lt-rr-status")
    page.wait_for_selector(f".lt-task-view[data-task-id='{task_id}']", timeout=30_000)
    lab_page.command("docmanager:open", {"path": "train.ipynb"})

    # Open result: the executed notebook, read-only, beside the original (on a wider screen with
    # the file browser folded away, so the notebook's toolbar keeps the status in view).
    lab_page.command("application:toggle-left-area")
    page.set_viewport_size({"width": 1800, "height": 900})
    page.click(".jp-NotebookPanel:not(.lm-mod-hidden) .lt-rr-open-result")
    view = f"#labtrack-remote-result-{task_id}"
    page.wait_for_selector(f"{view} .lt-rr-outputs:has-text('trained for 5 epochs at lr=0.1')", timeout=30_000)
    page.wait_for_selector(f"{view} .lt-rr-outputs b.done", timeout=10_000)  # HTML output, rendered
    assert page.text_content(f"{view} .lt-rr-markdown h1").startswith("Training")  # (with its anchor link)
    injected = page.eval_on_selector_all(f"{view} .lt-rr-code", "els => els.map(e => e.textContent)")
    assert any("epochs = 5" in code for code in injected)  # the agent's injected parameters cell
    assert page.eval_on_selector_all(f"{view} [contenteditable='true'], {view} textarea, {view} input",
                                     "els => els.length") == 0
    notebook_box = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first.bounding_box()
    result_box = page.locator(view).bounding_box()
    assert notebook_box and result_box and result_box["x"] >= notebook_box["x"] + notebook_box["width"] - 2, (
        "the result opens beside the notebook", notebook_box, result_box)
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .lt-rr-status[data-phase=completed]", state="visible")
    publish(lab_page.shot("05-result"), "remote-result.png")
    lab_page.set_theme(dark=True)
    publish(lab_page.shot("06-result-dark"), "remote-result-dark.png")
