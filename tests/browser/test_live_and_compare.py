"""The live chart widget draws while the loop still runs; three runs compared side by side."""

from __future__ import annotations

import time

import nbformat
from polling import wait_for as wait_until
from seed import loss_curve

LOOP = 150
LIVE_CELL = f"""import time
import labtrack
from IPython.display import display
task = labtrack.Task.init(project_name="browser/live", task_name="live chart")
chart = task.live()
display(chart)
logger = task.get_logger()
for i in range({LOOP}):
    logger.report_scalar("loss", "train", 1.0 / (i + 1), i)
    time.sleep(0.08)
print("loop done")
"""

# "Running" = the cell's prompt still shows [*] and its last line has not printed. (The kernel's
# busy/idle status is no guide: widget comm traffic toggles it while the cell runs.)
SAMPLE = """() => {
  const prompt = document.querySelector('.jp-Notebook .jp-Cell .jp-InputPrompt');
  const done = [...document.querySelectorAll('.jp-OutputArea-output')].some(o => o.textContent.includes('loop done'));
  const plots = [...document.querySelectorAll('.jp-OutputArea .js-plotly-plot')];
  let n = -1;
  for (const p of plots) for (const t of (p.data || [])) n = Math.max(n, (t.x || []).length);
  return {busy: !!prompt && prompt.textContent.includes('*') && !done, n};
}"""


def test_live_chart_has_intermediate_points_while_loop_runs(lab_page, lab):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(LIVE_CELL)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, lab.root_dir / "live.ipynb")

    page = lab_page
    page.command("docmanager:open", {"path": "live.ipynb"})
    page.page.wait_for_selector(".lt-track-button")
    page.wait_notebook_ready("live.ipynb")
    page.run_all_cells("live.ipynb")
    samples: list[dict] = []
    mid_shot = False
    deadline = time.monotonic() + 120  # a loaded machine (two test workers) runs the loop slower
    while time.monotonic() < deadline:
        sample = page.page.evaluate(SAMPLE)
        samples.append(sample)
        if sample["busy"] and 0 < sample["n"] and not mid_shot and sample["n"] > 20:
            page.shot("01-mid-loop", ".jp-OutputArea .js-plotly-plot")
            mid_shot = True
        if page.page.locator(".jp-OutputArea-output:has-text('loop done')").count():
            break
        time.sleep(0.2)
    else:
        page.shot("failed")
        raise AssertionError(f"the loop did not finish; samples: {samples[-5:]}")
    final = wait_until(lambda: (lambda s: s["n"] if s["n"] >= LOOP else 0)(page.page.evaluate(SAMPLE)), timeout=15)
    during = sorted({s["n"] for s in samples if s["busy"] and 0 < s["n"] < final})
    # At least two different partial lengths were drawn while the cell was still running.
    assert len(during) >= 2, f"no intermediate points while running: {samples}"
    page.shot("02-done", ".jp-OutputArea .js-plotly-plot")


def test_compare_three_runs_overlay_and_differing_params(lab_page, seeder):
    runs = []
    for name, lr in (("lr 0.1", 0.1), ("lr 0.03", 0.03), ("lr 0.01", 0.01)):
        task = seeder.task("browser/compare", name, {"lr": lr, "epochs": 10, "batch_size": 64}, status="completed")
        seeder.curve(task["id"], "loss", "train", loss_curve(300, lr))
        seeder.curve(task["id"], "accuracy", "val", [1 - v / 2.2 for v in loss_curve(300, lr, 3)])
        runs.append(task)

    page = lab_page
    page.open_sidebar("browser/compare")
    page.wait_rows(["lr 0.01", "lr 0.03", "lr 0.1"])
    for i in range(3):
        page.page.locator(".lt-task-check").nth(i).check()
    page.page.click(".lt-compare")
    page.page.wait_for_selector(".lt-compare[data-charts-drawn='2']")
    # One curve per run in each overlaid chart, colored per run, with a legend.
    traces = page.page.eval_on_selector(
        ".lt-compare-chart[data-metric=loss] .js-plotly-plot",
        "el => el.data.map(t => [t.name, t.line.color, t.x.length])",
    )
    # Legend entries name each run by its label: name · short id.
    assert sorted(t[0] for t in traces) == sorted(f"{t['name']} · {t['id'][:6]}" for t in runs)
    assert len({t[1] for t in traces}) == 3
    assert all(t[2] > 0 for t in traces)
    assert page.page.locator(".lt-compare-chart[data-metric=loss] .legend .traces").count() == 3

    # Only the differing hyperparameter by default; all with the toggle.
    params = page.page.eval_on_selector_all(".lt-param-table tbody tr", "rows => rows.map(r => r.dataset.param)")
    assert params == ["General/lr"]
    assert page.page.inner_text(".lt-param-table tbody tr").split() == ["General/lr", "0.01", "0.03", "0.1"]
    page.shot("01-compare")
    page.page.check(".lt-toggle input")
    params = page.page.eval_on_selector_all(".lt-param-table tbody tr", "rows => rows.map(r => r.dataset.param)")
    assert params == ["General/batch_size", "General/epochs", "General/lr"]

    # last/min/max table and the parallel coordinates plot.
    assert page.page.locator(".lt-metrics-table tbody tr").count() == 2 * 3
    # Parallel coordinates draw once scrolled into view (below the tables).
    page.page.wait_for_selector(".lt-parcoords", state="attached")
    page.page.locator(".lt-parcoords").scroll_into_view_if_needed()
    page.page.wait_for_selector(".lt-parcoords .js-plotly-plot")
    dims = page.page.eval_on_selector(".lt-parcoords .js-plotly-plot", "el => el.data[0].dimensions.map(d => d.label)")
    assert dims == ["General/lr", "accuracy/val"]
    page.shot("01b-compare-tables")
    page.set_theme(dark=True)
    page.shot("02-compare-dark")
    page.set_theme(dark=False)

    # The task view draws long series downsampled (min/max band) and zooming loads the visible
    # range at full resolution.
    long_run = runs[0]
    seeder.curve(long_run["id"], "loss", "long", loss_curve(5000, 0.1))
    page.command("labtrack:open-task", {"id": long_run["id"]})
    view = f"#labtrack-task-{long_run['id']}"
    page.page.click(f"{view} .lt-tab[data-tab=Scalars]")
    chart = f"{view} .lt-chart[data-metric=loss] .js-plotly-plot"
    page.page.wait_for_selector(chart)
    lengths = "el => Object.fromEntries(el.data.filter(t => !t.fill).map(t => [t.name, t.x.length]))"
    drawn = page.page.eval_on_selector(chart, lengths)
    assert drawn["train"] == 300 and drawn["long"] <= 600, drawn
    assert page.page.eval_on_selector(chart, "el => el.data.some(t => t.fill === 'toself')")  # min/max band
    page.page.eval_on_selector(chart, "el => el.emit('plotly_relayout', {'xaxis.range[0]': 1000, 'xaxis.range[1]': 1999})")
    page.page.wait_for_selector(f"{view} .lt-chart-note:has-text('full resolution')")
    # Plotly redraws asynchronously after the note appears.
    page.page.wait_for_function(
        "sel => (document.querySelector(sel).data.find(t => t.name === 'long' && !t.fill) || {x: []}).x.length === 1000",
        arg=chart,
    )
    drawn = page.page.eval_on_selector(chart, lengths)
    assert drawn == {"long": 1000, "train": 0}, drawn
    page.shot("03-task-zoomed")

    # Fifty runs at once: fifty curves, fifty colors.
    many = [seeder.task("browser/many", f"run {i:02d}", {"lr": i / 100}) for i in range(50)]
    for i, task in enumerate(many):
        seeder.curve(task["id"], "loss", "train", loss_curve(50, 0.1, i % 7))
    page.command("labtrack:compare-selected", {"ids": [t["id"] for t in many]})
    page.page.wait_for_selector(".lt-compare[data-metric-count='1'][data-charts-drawn='1']")
    colors = page.page.eval_on_selector(
        ".lt-compare[data-metric-count='1'] .lt-compare-chart .js-plotly-plot", "el => el.data.map(t => t.line.color)"
    )
    assert len(colors) == 50 and len(set(colors)) == 50
