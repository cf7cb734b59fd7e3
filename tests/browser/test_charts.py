"""Charts you can read, in a real JupyterLab: the resource monitor's gauges in their own System
section against time, smoothing, log scale and the x axis (kept as settings), a unified hover,
and the list's metric column."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

from screenshots import docs_img
from polling import wait_for as wait_until
from seed import Seeder, loss_curve

MONITOR_EVERY = 30  # seconds between the monitor's samples, as the SDK's default


def _started(task: dict) -> float:
    return datetime.fromisoformat(task["started"].replace("Z", "+00:00")).timestamp()


def seed_run(seeder: Seeder, name: str, lr: float, gpus: int, accuracy: float) -> dict:
    """A finished run: 300 iterations of loss over 10 minutes, and the resource monitor's samples
    every 30 s for 12 minutes (so its last "iteration" is 720, far past the loss's 299)."""
    task = seeder.task("browser/charts", name, {"lr": lr}, status="in_progress")
    t0 = _started(task)
    values = loss_curve(300, lr, noise_seed=int(lr * 100))
    seeder.events(task["id"], [
        {"type": "scalars", "metric": "loss", "variant": "train", "iterations": list(range(300)),
         "values": values, "times": [t0 + 2 * i for i in range(300)]},
        {"type": "scalars", "metric": "accuracy", "variant": "test", "iterations": [99, 199, 299],
         "values": [accuracy - 0.2, accuracy - 0.05, accuracy], "times": [t0 + 200, t0 + 400, t0 + 598]},
    ])
    seconds = list(range(0, 721, MONITOR_EVERY))
    gauges: dict[str, list[float]] = {
        "cpu_percent": [55 + 30 * math.sin(s / 90 + lr * 20) for s in seconds],
        "memory_used_gb": [6.0 + s / 400 for s in seconds],
        "process_rss_gb": [1.2 + s / 900 for s in seconds],
    }
    for device in range(gpus):
        gauges[f"gpu_{device}_utilization"] = [80 + 10 * math.cos(s / 60 + device) for s in seconds]
        gauges[f"gpu_{device}_memory_used_gb"] = [10.0 + device + s / 600 for s in seconds]
    seeder.events(task["id"], [
        {"type": "scalars", "metric": ":monitor:", "variant": variant, "iterations": seconds, "values": vals,
         "times": [t0 + s for s in seconds]}
        for variant, vals in gauges.items()
    ])
    seeder._call("POST", f"tasks/{task['id']}/complete", json={})
    return task


def _set_range(page: Any, selector: str, value: float) -> None:
    """Move a range input the way a drag does (React listens to the input event)."""
    page.eval_on_selector(
        selector,
        """(el, value) => {
            const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
            setter.call(el, String(value));
            el.dispatchEvent(new Event('input', { bubbles: true }));
        }""",
        value,
    )


def _roughness(ys: list[float | None]) -> float:
    """Sum of squared second differences: lower for a smoother curve."""
    v = [y for y in ys if y is not None]
    return sum((v[i + 1] - 2 * v[i] + v[i - 1]) ** 2 for i in range(1, len(v) - 1))


def _chart_attrs(page: Any, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.dataset.metric)")


def test_system_section_smoothing_log_scale_and_time_axes(lab_page, seeder, lab):
    first = seed_run(seeder, "lr 0.1", 0.1, gpus=2, accuracy=0.912345)
    second = seed_run(seeder, "lr 0.03", 0.03, gpus=0, accuracy=0.87)
    page = lab_page
    p = page.page

    # The list: iterations are the run's own (299, not the monitor's 720 seconds); the Sort menu
    # offers the runs' metrics only.
    page.open_sidebar("browser/charts")
    row = f".lt-task-row[data-task-id='{first['id']}']"
    p.wait_for_selector(f"{row} .lt-task-metric:has-text('iter 299')")
    sort_options = p.eval_on_selector_all(".lt-sort option", "os => os.map(o => o.value)")
    assert "metric:loss/train" in sort_options and "metric:accuracy/test" in sort_options
    assert not [o for o in sort_options if "monitor" in o], sort_options

    # The task view: Overview leaves the gauges out of the metrics and the iteration count.
    page.command("labtrack:open-task", {"id": first["id"]})
    view = f"#labtrack-task-{first['id']}"
    p.wait_for_selector(f"{view} .lt-last-metrics")
    assert "monitor" not in p.inner_text(f"{view} .lt-last-metrics")
    assert p.inner_text(f"{view} tr[data-field='last iteration'] td") == "299"

    # Scalars: the run's metrics first, then System: one chart per gauge, GPUs per device.
    p.click(f"{view} .lt-tab[data-tab=Scalars]")
    p.wait_for_selector(f"{view} .lt-system .lt-chart[data-metric='system:gpu1-memory'] .js-plotly-plot")
    assert _chart_attrs(p, f"{view} .lt-scalars > .lt-charts > .lt-chart") == ["accuracy", "loss"]
    assert _chart_attrs(p, f"{view} .lt-system .lt-chart") == [
        "system:cpu", "system:memory",
        "system:gpu0-utilization", "system:gpu0-memory", "system:gpu1-utilization", "system:gpu1-memory",
    ]
    memory = f"{view} .lt-chart[data-metric='system:memory'] .js-plotly-plot"
    drawn = p.eval_on_selector(memory, """el => ({
        names: el.data.map(t => t.name), x: el.data[0].x, xtitle: el._fullLayout.xaxis.title.text,
        ytitle: el._fullLayout.yaxis.title.text })""")
    assert drawn["names"] == ["machine used", "this process (RSS)"]  # GB together, never with CPU %
    assert drawn["xtitle"] == "time since start (min)" and drawn["ytitle"] == "GB"
    assert drawn["x"][-1] == 12  # 720 s of samples, in minutes
    p.set_viewport_size({"width": 1440, "height": 1600})  # whole sections in the screenshots
    p.locator(f"{view} .lt-system").scroll_into_view_if_needed()
    page.shot("01-system")
    p.locator(f"{view} .lt-system").screenshot(path=str(docs_img("charts-system.png")))

    # Smoothing: a debiased EMA drawn over the faint raw curve; the hover gives both.
    loss = f"{view} .lt-chart[data-metric=loss] .js-plotly-plot"
    p.locator(f"{view} .lt-chart[data-metric=loss]").scroll_into_view_if_needed()
    raw = p.eval_on_selector(loss, "el => el.data.find(t => t.meta === 'raw').y")
    _set_range(p, f"{view} .lt-smoothing", 0.9)
    p.wait_for_selector(f"{view} .lt-chart[data-metric=loss][data-smoothing='0.9']")
    p.wait_for_function("sel => document.querySelector(sel).data.some(t => t.meta === 'smoothed')", arg=loss)
    traces = p.eval_on_selector(loss, "el => el.data.map(t => ({meta: t.meta, y: t.y, opacity: t.opacity}))")
    smooth = next(t for t in traces if t["meta"] == "smoothed")["y"]
    faint = next(t for t in traces if t["meta"] == "raw")
    assert faint["y"] == raw and faint["opacity"] < 1
    assert abs(smooth[0] - raw[0]) < 1e-9  # debiased: starts on the data, not at 0
    assert _roughness(smooth) < _roughness(raw) / 20
    # The same EMA TensorBoard draws.
    last, expect = 0.0, []
    for n, y in enumerate(raw, 1):
        last = last * 0.9 + 0.1 * y
        expect.append(last / (1 - 0.9 ** n))
    assert max(abs(a - b) for a, b in zip(smooth, expect)) < 1e-9

    # Log scale changes the axis the values are plotted on.
    linear = p.eval_on_selector(loss, "el => el._fullLayout.yaxis.range")
    p.check(f"{view} .lt-log-y")
    p.wait_for_function("sel => document.querySelector(sel)._fullLayout.yaxis.type === 'log'", arg=loss)
    logged = p.eval_on_selector(loss, "el => el._fullLayout.yaxis.range")
    assert linear[1] > 2 and logged[1] < 0.5, (linear, logged)  # log10 of ~2.1
    page.shot("02-smoothed-log")
    p.locator(f"{view} .lt-scalars").screenshot(path=str(docs_img("charts-smoothing.png")))

    # x axis: time since start (from each point's time), then wall time.
    p.select_option(f"{view} .lt-x-axis", "relative")
    p.wait_for_function(
        "sel => document.querySelector(sel)._fullLayout.xaxis.title.text === 'time since start (min)'", arg=loss)
    xs = p.eval_on_selector(loss, "el => el.data.find(t => t.meta === 'smoothed').x")
    # (The browser reads the start to the millisecond.)
    assert abs(xs[0]) < 1e-3 and abs(xs[-1] - 598 / 60) < 1e-3
    p.select_option(f"{view} .lt-x-axis", "wall")
    p.wait_for_function("sel => document.querySelector(sel)._fullLayout.xaxis.type === 'date'", arg=loss)

    # The choices are settings: written to the registry and back after a reload.
    settings_file = Path(lab.env["JUPYTERLAB_SETTINGS_DIR"]) / "labtrack" / "charts.jupyterlab-settings"
    wait_until(lambda: settings_file.exists() and json.loads(_strip_comments(settings_file.read_text())).get("xAxis") == "wall",
               timeout=15, what="the chart settings saved")
    saved = json.loads(_strip_comments(settings_file.read_text()))
    assert saved["smoothing"] == 0.9 and saved["logY"] is True
    p.reload()
    page.open()  # waits for the app again; the restored layout reopens the task view
    page.command("labtrack:open-task", {"id": first["id"]})
    p.click(f"{view} .lt-tab[data-tab=Scalars]")
    p.wait_for_selector(f"{view} .lt-chart[data-metric=loss][data-x-axis=wall][data-log-y=true][data-smoothing='0.9']")
    assert p.input_value(f"{view} .lt-x-axis") == "wall" and p.is_checked(f"{view} .lt-log-y")
    p.select_option(f"{view} .lt-x-axis", "iteration")
    p.uncheck(f"{view} .lt-log-y")
    _set_range(p, f"{view} .lt-smoothing", 0.6)

    # Compare: the same toolbar; a hover lists every run's value at that x; its own System section.
    page.command("labtrack:compare-selected", {"ids": [first["id"], second["id"]]})
    p.wait_for_function("() => Number(document.querySelector('div.lt-compare')?.dataset.chartsDrawn) >= 3")
    chart = ".lt-compare-chart[data-metric=loss] .js-plotly-plot"
    assert p.eval_on_selector(chart, "el => el._fullLayout.hovermode") == "x unified"
    assert _chart_attrs(p, ".lt-compare .lt-system .lt-compare-chart") == [
        "system:cpu", "system:memory", "system:gpu0-utilization", "system:gpu0-memory",
        "system:gpu1-utilization", "system:gpu1-memory"]
    assert "monitor" not in p.inner_text(".lt-metrics-table")
    box = p.locator(chart).bounding_box()
    p.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.5)
    p.wait_for_selector(".lt-compare-chart[data-metric=loss] .hoverlayer .legend")
    hover = p.eval_on_selector(".lt-compare-chart[data-metric=loss] .hoverlayer .legend", "el => el.textContent")
    assert "lr 0.1" in hover and "lr 0.03" in hover, hover
    assert "(raw)" not in hover and "raw " in hover  # the smoothed value, with the raw one beside it
    page.shot("03-compare-hover")
    p.locator(".lt-compare-chart[data-metric=loss]").screenshot(path=str(docs_img("charts-compare-hover.png")))


def _strip_comments(text: str) -> str:
    """JupyterLab writes settings as JSON5 with // comments."""
    return "\n".join(line for line in text.splitlines() if not line.strip().startswith("//"))


def test_metric_column_shows_a_readable_value(lab_page, seeder):
    runs = [seed_run(seeder, name, lr, gpus=0, accuracy=acc)
            for name, lr, acc in (("a rather long experiment name", 0.1, 0.912345), ("short", 0.03, 0.5))]
    page = lab_page
    p = page.page
    page.open_sidebar("browser/charts")
    p.wait_for_selector(f".lt-task-row[data-task-id='{runs[0]['id']}']")
    p.select_option(".lt-sort", "metric:accuracy/test")
    cell = f".lt-task-row[data-task-id='{runs[0]['id']}'] .lt-task-value"
    p.wait_for_selector(cell)
    number = p.locator(f"{cell} .lt-task-value-number")
    assert number.inner_text() == "0.91234"
    # Readable: the number is not clipped, and the metric is named beside it and in the tooltip.
    assert p.eval_on_selector(f"{cell} .lt-task-value-number", "el => el.scrollWidth <= el.clientWidth")
    assert p.inner_text(f"{cell} .lt-task-value-key") == "accuracy/test"
    assert "accuracy/test: last 0.912345" in p.get_attribute(cell, "title")
    page.shot("01-sorted-by-metric", ".lt-sidebar")
    # Any metric as the column, whatever the sort.
    p.select_option(".lt-sort", "created")
    p.select_option(".lt-column-pick", "loss/train")
    p.wait_for_selector(f"{cell}[data-metric='loss/train']")
    assert not [o for o in p.eval_on_selector_all(".lt-column-pick option", "os => os.map(o => o.value)") if "monitor" in o]
    p.locator(".lt-sidebar").screenshot(path=str(docs_img("charts-metric-column.png")))
