"""The README's tour: the example notebook tracked and run in JupyterLab, then its run in the
task view (plots, tables, artifacts, code). Screenshots go to docs/img via the docs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests
from polling import wait_for as wait_until

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"


# Known until the live chart stops setting yaxis2.domain with its parent (issue 8, "Charts you
# can read"): remove this marker with that fix.
@pytest.mark.expected_console_errors("cannot set yaxis2.domain and a parent attribute simultaneously")
def test_tour_quickstart_tracked_run_and_task_view(lab_page, lab, tracking_server):
    shutil.copy(EXAMPLE, lab.root_dir / "quickstart.ipynb")
    page = lab_page
    page.open_sidebar()
    page.command("docmanager:open", {"path": "quickstart.ipynb"})
    page.wait_notebook_ready("quickstart.ipynb")
    page.page.click(".lt-track-button")
    page.page.wait_for_selector(".lt-track-button[data-state=tracked]", timeout=60_000)
    task_id = page.page.get_attribute(".lt-track-button", "title").split("task ")[1].split(" ")[0]
    page.run_all_cells("quickstart.ipynb")
    page.page.wait_for_selector(".jp-OutputArea-output:has-text('status:')", timeout=120_000)

    def completed() -> bool:
        task = requests.get(f"{tracking_server.api}/tasks/{task_id}", headers=tracking_server.headers, timeout=10).json()
        return task["status"] == "completed"

    wait_until(completed, timeout=30)
    # The live chart cell scrolled into view, next to the sidebar listing the run.
    page.page.click(".lt-refresh")
    page.page.wait_for_selector(f".lt-task-row[data-task-id='{task_id}'] .lt-status-completed")
    page.page.locator(".jp-OutputArea .js-plotly-plot").first.scroll_into_view_if_needed()
    page.shot("01-notebook")

    page.page.click(f".lt-task-row[data-task-id='{task_id}']")
    view = f"#labtrack-task-{task_id}"
    page.page.wait_for_selector(f"{view} .lt-last-metrics")
    page.shot("02-overview")
    page.page.click(f"{view} .lt-tab[data-tab=Scalars]")
    page.page.wait_for_selector(f"{view} .lt-chart .js-plotly-plot")
    page.shot("03-scalars")
    page.page.click(f"{view} .lt-tab[data-tab=Plots]")
    page.page.wait_for_selector(f"{view} .lt-figure .js-plotly-plot")
    page.page.wait_for_selector(f"{view} .lt-table-card")
    page.shot("04-plots")
    page.page.click(f"{view} .lt-tab[data-tab=Artifacts]")
    page.page.click(f"{view} tr[data-artifact=final_metrics] button:has-text('Preview')")
    page.page.wait_for_selector(f"{view} .lt-preview pre:has-text('val_accuracy')")
    page.shot("05-artifacts")
    page.page.click(f"{view} .lt-tab[data-tab=Code]")
    page.page.wait_for_selector(f"{view} .lt-cells:has-text('task.live()')")
    page.shot("06-code")
    page.page.click(f"{view} .lt-tab[data-tab=Console]")
    page.page.wait_for_selector(f"{view} .lt-console")
    page.shot("07-console")
    page.set_theme(dark=True)
    page.page.click(f"{view} .lt-tab[data-tab=Scalars]")
    page.page.wait_for_selector(f"{view} .lt-chart .js-plotly-plot")
    page.shot("08-dark-scalars")
    page.page.click(f"{view} .lt-tab[data-tab=Overview]")
    page.shot("09-dark-overview")
    page.set_theme(dark=False)
