"""UI benchmark, measured in the browser (Debian Chromium via Playwright) on a real JupyterLab
with the labtrack extension and a real tracking server:

- compare panel: from clicking "Compare" on 10 runs × 100,000 points to every chart drawn;
- sidebar: first paint of a 10,000-experiment project after choosing it, then scrolling the
  virtualised list to its end (server pages of 200) with the longest frame seen.

Writes bench/results/ui.md. `python -m bench ui` runs it alone.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "ui.md"
# The test harness's launchers (real server, real JupyterLab) are reused, not copied.
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "browser")]

N_RUNS = int(os.environ.get("LABTRACK_BENCH_UI_RUNS", "10"))
N_POINTS = int(os.environ.get("LABTRACK_BENCH_UI_POINTS", "100000"))
N_TASKS = int(os.environ.get("LABTRACK_BENCH_UI_TASKS", "10000"))
ROUNDS = 3
CHROMIUM = os.environ.get("LABTRACK_CHROMIUM", "/usr/bin/chromium")
# As in tests/browser/conftest.py (notes/jupyterlab.md §7).
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--no-first-run"]

# Resolves with ms from the click on "Compare" until the panel reports every chart drawn.
COMPARE_JS = """async (charts) => {
  const start = performance.now();
  const done = new Promise(resolve => {
    const check = () => {
      const panel = [...document.querySelectorAll('.lt-compare')].pop();
      if (panel && Number(panel.dataset.chartsDrawn || 0) >= charts) {
        requestAnimationFrame(() => resolve(performance.now() - start));
        return true;
      }
      return false;
    };
    const observer = new MutationObserver(() => { if (check()) observer.disconnect(); });
    observer.observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-charts-drawn']});
  });
  document.querySelector('.lt-compare').click();
  return await done;
}"""

# Resolves with ms from choosing the project until its first row is painted.
SIDEBAR_JS = """async ([value, prefix]) => {
  const select = document.querySelector('.lt-project');
  const start = performance.now();
  const painted = new Promise(resolve => {
    const check = () => {
      const row = document.querySelector('.lt-task-row .lt-task-name');
      if (row && row.textContent.startsWith(prefix)) {
        requestAnimationFrame(() => resolve(performance.now() - start));
        return true;
      }
      return false;
    };
    const observer = new MutationObserver(() => { if (check()) observer.disconnect(); });
    observer.observe(document.querySelector('.lt-sidebar'), {subtree: true, childList: true, characterData: true});
  });
  select.value = value;
  select.dispatchEvent(new Event('change', {bubbles: true}));
  return await painted;
}"""

# Scrolls the list to its end until every row is loaded; reports time and the longest frame.
SCROLL_JS = """async (total) => {
  const list = document.querySelector('.lt-vlist');
  const start = performance.now();
  let last = start, worst = 0, frames = 0;
  while (true) {
    list.scrollTop = list.scrollHeight;
    await new Promise(r => requestAnimationFrame(r));
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
    frames++;
    const count = document.querySelector('.lt-count').textContent;
    if (count.startsWith(String(total) + ' ') || now - start > 120000) break;
  }
  return {ms: performance.now() - start, worstFrame: worst, frames, rows: document.querySelectorAll('.lt-task-row').length};
}"""


def _seed(seeder: Any) -> tuple[list[dict], str]:
    """10 runs with N_POINTS each in one project; N_TASKS small tasks in another."""
    from seed import loss_curve

    runs = []
    for i in range(N_RUNS):
        lr = 0.01 * (i + 1)
        task = seeder.task("bench/ui-compare", f"run {i}", {"lr": lr, "seed": i, "epochs": 20})
        seeder.curve(task["id"], "loss", "train", loss_curve(N_POINTS, lr, i))
        runs.append(task)

    def make(i: int) -> None:
        seeder.task("bench/ui-10k", f"exp {i:05d}", {"lr": i % 7}, status="created")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(make, range(N_TASKS)))
    # Created last, so the sidebar opens on it and the 10k project is chosen while measuring.
    seeder.task("bench/ui-start", "first", status="created")
    return runs, "bench/ui-10k"


def _measure(lab: Any, runs: list[dict], big_project: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(120_000)
        page.goto(f"{lab.base_url}lab?token={lab.token}")
        page.wait_for_selector("#jupyterlab-splash", state="detached")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands.hasCommand('labtrack:open-sidebar')")
        page.evaluate("() => window.jupyterapp.restored.then(() => window.jupyterapp.commands.execute('labtrack:open-sidebar')).then(() => null)")
        page.wait_for_function("() => [...document.querySelectorAll('.lt-project option')].length >= 3")

        def option(name: str) -> str:
            return page.evaluate(
                "n => [...document.querySelectorAll('.lt-project option')].find(o => o.textContent.startsWith(n + ' (')).value", name
            )

        small = option("bench/ui-start")
        firsts = []
        for _ in range(ROUNDS):
            page.select_option(".lt-project", small)
            page.wait_for_function("() => document.querySelector('.lt-task-row .lt-task-name')?.textContent === 'first'")
            firsts.append(page.evaluate(SIDEBAR_JS, [option(big_project), "exp "]))
        out["sidebar_first_paint_ms"] = statistics.median(firsts)
        out["sidebar_scroll"] = page.evaluate(SCROLL_JS, N_TASKS)

        page.select_option(".lt-project", option("bench/ui-compare"))
        page.wait_for_function(f"() => document.querySelectorAll('.lt-task-row').length >= {N_RUNS}")
        for i in range(N_RUNS):
            page.locator(".lt-task-check").nth(i).check()
        times = []
        for _ in range(ROUNDS):
            times.append(page.evaluate(COMPARE_JS, 1))
            traces = page.eval_on_selector(
                ".lt-compare-chart[data-metric=loss] .js-plotly-plot", "el => el.data.map(t => t.x.length)"
            )
            assert len(traces) == N_RUNS, traces
            page.evaluate("() => window.jupyterapp.commands.execute('application:close-all').then(() => null)")
        out["compare_ms"] = statistics.median(times)
        out["compare_all_ms"] = times
        out["points_drawn_per_run"] = traces[0]
        out["chromium"] = browser.version
        browser.close()
    return out


def main() -> int:
    """Seed a server, start JupyterLab, measure in Chromium, write bench/results/ui.md."""
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: run scripts/system-deps.sh", file=sys.stderr)
        return 1
    from conftest import TrackingServer  # tests/conftest.py
    from jupyter_fixtures import start_jupyter
    from seed import Seeder

    with tempfile.TemporaryDirectory(prefix="labtrack-ui-bench-") as tmp:
        root = Path(tmp)
        (root / "home").mkdir()
        server = TrackingServer(db_url=f"sqlite:///{root / 'db.sqlite'}", artifacts=root / "artifacts", home=root / "home")
        server.start()
        lab = None
        try:
            started = time.perf_counter()
            runs, big = _seed(Seeder(server.api, server.api_key))
            seed_s = time.perf_counter() - started
            lab = start_jupyter(root / "nb", root / "jupyter", env=server.env, app="lab",
                                extra_args=["--LabApp.expose_app_in_browser=True"])
            result = _measure(lab, runs, big)
        finally:
            if lab is not None:
                lab.stop()
            server.stop()
    scroll = result["sidebar_scroll"]
    cold, *warm = result["compare_all_ms"]
    rows = [
        (f"compare panel, first open: click → {N_RUNS} runs × {N_POINTS:,} points drawn",
         f"{cold:.0f} ms", "includes fetching and parsing plotly.js (4.4 MB, loaded lazily on first chart)"),
        (f"compare panel, opened again: click → {N_RUNS} runs × {N_POINTS:,} points drawn",
         f"{statistics.median(warm):.0f} ms", f"median of {len(warm)}; the server downsamples each run to "
         f"{result['points_drawn_per_run']} buckets, so the browser draws {N_RUNS} × {result['points_drawn_per_run']} points"),
        (f"sidebar: choose a {N_TASKS:,}-experiment project → first row painted (median of {ROUNDS})",
         f"{result['sidebar_first_paint_ms']:.0f} ms", "first server page is 200 rows; only visible rows are in the DOM"),
        (f"sidebar: scroll to the end, loading all {N_TASKS:,} rows page by page",
         f"{scroll['ms']:.0f} ms", f"longest frame {scroll['worstFrame']:.0f} ms over {scroll['frames']} frames; "
         f"{scroll['rows']} row elements in the DOM at the end"),
    ]
    lines = [
        "# UI benchmark (in the browser)",
        "",
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, Chromium {result['chromium']} headless, "
        f"JupyterLab with the labtrack extension and a local tracking server on SQLite (seeding took {seed_s:.0f} s). "
        "`python -m bench ui` reproduces it.",
        "",
        "| measurement | result | notes |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
