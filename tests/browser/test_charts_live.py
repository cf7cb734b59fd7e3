"""The notebook's live chart in a real JupyterLab: a run with several panels logs no console
error; after a reload it is live again while its kernel runs, and with another kernel the saved
chart shows as a static plot (no "Error displaying widget: model not found", no widget console
errors)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import requests
from screenshots import docs_img
from polling import wait_for as wait_until

LIVE_MIME = "application/vnd.labtrack.live-chart+json"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
STEPS = 60

# Two metrics: the second panel's axes are added while the chart is shown (the relayout that
# plotly.js used to refuse with "cannot set yaxis2.domain and a parent attribute simultaneously").
CELL = f"""import time
import labtrack
from IPython.display import display
task = labtrack.Task.init(project_name="browser/live-charts", task_name="two panels")
chart = task.live(refresh_hz=10)
display(chart)
log = task.get_logger()
for i in range({STEPS}):
    log.report_scalar("loss", "train", 1.0 / (i + 1), i)
    if i >= 10:
        log.report_scalar("accuracy", "val", i / {STEPS}, i)
    time.sleep(0.05)
time.sleep(0.5)
print("loop done")
"""

LENGTHS = """sel => {
  const gd = document.querySelector(sel);
  return gd && gd.data ? Object.fromEntries(gd.data.map(t => [t.meta, (t.x || []).length])) : null;
}"""


def _wait_lengths(page, selector: str, expected: dict, what: str) -> None:
    """Wait until the chart at `selector` draws `expected` points per trace (meta → count)."""
    seen: list = []

    def drawn() -> bool:
        seen.append(page.evaluate(LENGTHS, selector))
        return seen[-1] == expected

    try:
        # Generous: with two test workers a reloaded page restores its widgets slowly; drawn ends it.
        wait_until(drawn, timeout=90, what=what)
    except AssertionError as exc:
        plots = page.evaluate("""() => [...document.querySelectorAll('.lt-live-chart-output .js-plotly-plot')].map(
            g => [g.className, g.closest('.lt-live-chart-output').dataset.ltChart, (g.data || []).map(t => [t.meta, (t.x || []).length])])""")
        raise AssertionError(f"{exc}; last drawn: {seen[-1] if seen else None}; plots: {plots}; "
                             f"browser errors: {getattr(page, '_lt_errors', None)}") from None


def _saved_figure(path: Path) -> dict | None:
    for cell in json.loads(path.read_text())["cells"]:
        for output in cell.get("outputs", []):
            if LIVE_MIME in output.get("data", {}):
                return output["data"][PLOTLY_MIME]
    return None


def test_live_chart_runs_clean_and_a_saved_one_survives_reloads(lab_page, lab):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CELL)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    path = lab.root_dir / "live-saved.ipynb"
    nbformat.write(nb, path)

    page = lab_page
    p = page.page
    page.command("docmanager:open", {"path": "live-saved.ipynb"})
    page.wait_notebook_ready("live-saved.ipynb")
    page.run_all_cells("live-saved.ipynb")
    p.wait_for_selector(".jp-OutputArea-output:has-text('loop done')", timeout=120_000)
    live = ".lt-live-chart-output[data-lt-chart=live] .js-plotly-plot:not(.lt-saved-plot)"
    _wait_lengths(p, live, {"loss/train": STEPS, "accuracy/val": STEPS - 10}, "the live chart's final points")
    assert p.eval_on_selector(live, "el => el._fullLayout.yaxis2.title.text") == "accuracy"
    # Every layout edit was accepted: no "Error setting state" (nor any other) in the console.
    assert not page.errors.seen, page.errors.seen

    # Saving writes the chart as it is now into the output's static copy.
    page.command("docmanager:save")
    wait_until(lambda: (_saved_figure(path) or {}).get("data"), timeout=20, what="the saved static copy")
    saved = {t["meta"]: len(t["x"]) for t in _saved_figure(path)["data"]}
    assert saved == {"loss/train": STEPS, "accuracy/val": STEPS - 10}, saved

    # A reload while the kernel runs: the saved copy first, then the live widget again, drawn
    # from the widget's state (sent again once the chart went quiet): every point, no error.
    p.reload()
    page.open()
    page.command("docmanager:open", {"path": "live-saved.ipynb"})
    page.wait_notebook_ready("live-saved.ipynb")
    _wait_lengths(p, live, {"loss/train": STEPS, "accuracy/val": STEPS - 10}, "the live chart after a reload")
    assert not page.errors.seen, page.errors.seen

    # Another kernel: shut this one down (its widget models go with it), reload the page.
    sessions = requests.get(lab.url("api/sessions"), headers=lab.headers, timeout=10).json()
    for session in sessions:
        requests.delete(lab.url(f"api/sessions/{session['id']}"), headers=lab.headers, timeout=30)
    p.reload()
    page.open()
    page.command("docmanager:open", {"path": "live-saved.ipynb"})
    page.wait_notebook_ready("live-saved.ipynb")
    static = ".lt-live-chart-output[data-lt-chart=static] .lt-saved-plot"
    _wait_lengths(p, static, {"loss/train": STEPS, "accuracy/val": STEPS - 10}, "the static chart from the saved copy")
    # The widget manager has restored the new kernel's (no) widgets: still static, no error box.
    p.wait_for_timeout(2000)
    assert p.locator(static).count() == 1
    assert "Error displaying widget" not in p.inner_text(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
    assert "not running" in p.inner_text(".lt-saved-chart-note")
    page.shot("01-static-after-reload")
    p.locator(".lt-live-chart-output").screenshot(path=str(docs_img("live-chart-saved.png")))
    assert not page.errors.seen, page.errors.seen  # no "model not found", no anywidget error
