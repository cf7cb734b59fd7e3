"""The enqueue widget in a real JupyterLab notebook with a real agent: a cell makes a task and shows
`task.enqueue_widget()`; in the rendered widget a person picks the queue, edits a parameter and
presses Enqueue; the agent runs the task, and the same output shows the remote status going to
completed and a live chart of the run's scalars."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import nbformat
from screenshots import docs_img
from agent_lab import Lab

STEPS = 60

# The script the agent runs: its first loss point is the learning rate it was given.
REMOTE_SCRIPT = f"""\
import time
import labtrack
task = labtrack.Task.init("browser/enqueue", "widget run")
params = task.connect({{"lr": 0.1, "steps": {STEPS}}})
print("LR", params["lr"], flush=True)
log = task.get_logger()
for i in range(int(params["steps"])):
    log.report_scalar("loss", "train", params["lr"] / (i + 1), i)
    time.sleep(0.2)
"""

CELL = f"""import labtrack
task = labtrack.Task.create("browser/enqueue", "widget run", script="remote_train.py", requirements=[])
task.set_parameters({{"General/lr": 0.1, "General/steps": {STEPS}}})
print("TASK", task.id)
task.enqueue_widget(refresh_seconds=0.5)
"""

OUTPUT = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output"
STATUS = f"{OUTPUT} .labtrack-enqueue-status"
CHART = f"{OUTPUT} .js-plotly-plot"
# What the page shows now: the status line and the chart's points per trace.
SAMPLE = """([status, chart]) => {
  const s = document.querySelector(status);
  const gd = document.querySelector(chart);
  const traces = gd && gd.data ? gd.data.map(t => [t.meta, (t.x || []).length, (t.y || [])[0]]) : [];
  return {status: s ? s.textContent : null, traces};
}"""


def _sample(page: Any) -> dict[str, Any]:
    return page.evaluate(SAMPLE, [STATUS, CHART])


def test_enqueue_widget_runs_the_task_on_an_agent_and_follows_it(lab_page, lab, tracking_server, tmp_path):
    agents = Lab(tracking_server, tmp_path)
    try:
        agents.queue("gpu")
        agents.start_agent("gpu-box", queues=("gpu",))  # nothing pulls `default`: the queue picked matters
        (lab.root_dir / "remote_train.py").write_text(REMOTE_SCRIPT)
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(CELL)]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
        nbformat.write(nb, lab.root_dir / "enqueue.ipynb")

        page = lab_page.page
        lab_page.command("docmanager:open", {"path": "enqueue.ipynb"})
        lab_page.wait_notebook_ready("enqueue.ipynb")
        lab_page.run_all_cells("enqueue.ipynb")
        page.wait_for_selector(f"{OUTPUT}:has-text('TASK ')", timeout=90_000)
        task_id = page.inner_text(f"{OUTPUT}:has-text('TASK ')").split("TASK ", 1)[1].split()[0]
        page.wait_for_selector(f"{STATUS}:has-text('ready')", timeout=60_000)

        # The dropdown lists the queues with their live counts; pick gpu (the agent's).
        select = f"{OUTPUT} .widget-dropdown select"
        gpu = "gpu · 0 pending · 1 worker"  # an option's value is its label (its text has &nbsp; for spaces)
        page.wait_for_function(
            "([sel, label]) => [...document.querySelectorAll(sel + ' option')].some(o => o.value === label)",
            arg=[select, gpu], timeout=30_000,
        )
        page.select_option(select, value=gpu)
        lr = page.locator(f"{OUTPUT} .widget-text:has(> label:text-is('General/lr')) input")
        assert lr.input_value() == "0.1"
        lr.fill("0.5")
        lr.press("Enter")  # FloatText sends its value on Enter or blur
        steps = page.locator(f"{OUTPUT} .widget-text:has(> label:text-is('General/steps')) input")
        assert steps.input_value() == str(STEPS)
        lab_page.shot("01-ready", f"{OUTPUT}:has(.widget-dropdown)")
        page.click(f"{OUTPUT} .widget-button:has-text('Enqueue')")
        # Sent: what it was sent with can no longer be changed here.
        page.wait_for_selector(f"{select}:disabled", timeout=20_000)
        assert lr.is_disabled() and steps.is_disabled()

        # The status and the chart while the agent runs it, until it ends.
        seen: list[dict[str, Any]] = []
        running_shot = False
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            seen.append(_sample(page))
            status = seen[-1]["status"] or ""
            if status.startswith("running on gpu-box") and not running_shot and any(t[1] >= 20 for t in seen[-1]["traces"]):
                page.locator(f"{OUTPUT}:has(.widget-dropdown)").screenshot(
                    path=str(docs_img("enqueue-widget-running.png")))
                running_shot = True
            if status.startswith("completed") and [t[:2] for t in seen[-1]["traces"]] == [["loss/train", STEPS]]:
                break
            page.wait_for_timeout(300)
        statuses = [s["status"] for s in seen]
        assert seen and (seen[-1]["status"] or "").startswith("completed"), statuses[-5:]
        assert seen[-1]["traces"] == [["loss/train", STEPS, 0.5]], seen[-1]
        assert any(s.startswith("running on gpu-box") for s in statuses if s), sorted(set(statuses))
        # Live: the chart showed some of the points while the run was still going.
        live = {t[1] for s in seen if (s["status"] or "").startswith("running") for t in s["traces"]}
        assert any(0 < n < STEPS for n in live), f"no partial chart while running: {live}"
        assert page.is_disabled(f"{OUTPUT} .widget-button:has-text('Enqueue')")
        assert lr.input_value() == "0.5"

        # The server has the edited value, and the remote run got it.
        task = agents.get(task_id)
        assert task["status"] == "completed", task
        assert task["hyperparams"]["General"]["lr"]["value"] == "0.5", task["hyperparams"]
        assert "LR 0.5" in agents.console(task_id)
        page.locator(f"{OUTPUT}:has(.widget-dropdown)").screenshot(path=str(docs_img("enqueue-widget.png")))
    finally:
        agents.stop_agents()
