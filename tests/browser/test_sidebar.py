"""The experiments sidebar in a real JupyterLab: lists, filters, sorts, selects, shows errors."""

from __future__ import annotations

import pytest
from seed import loss_curve


@pytest.mark.labtrack_settings({"defaultProject": "vision/cifar", "refreshInterval": 1})
def test_sidebar_lists_filters_sorts_and_shows_errors(lab_page, seeder, tracking_server):
    alpha = seeder.task("vision/cifar", "alpha baseline", {"lr": 0.1}, tags=["baseline"], status="completed")
    beta = seeder.task("vision/cifar", "beta wide", {"lr": 0.01}, status="failed")
    gamma = seeder.task("vision/cifar", "gamma deep", {"lr": 0.03}, status="in_progress")
    seeder.task("other/project", "elsewhere", status="created")
    for task, lr in ((alpha, 0.1), (beta, 0.01), (gamma, 0.03)):
        seeder.curve(task["id"], "loss", "train", loss_curve(50, lr))

    page = lab_page
    # No click: the live refresh (every second here) finds the projects seeded after the page
    # loaded and opens the `defaultProject` of the settings, although another project is newer.
    page.open_sidebar(refresh=False)
    # Newest first, with a status icon per row.
    page.wait_rows(["gamma deep", "beta wide", "alpha baseline"])
    assert page.page.eval_on_selector(".lt-project", "s => s.options[s.selectedIndex].text") == "vision/cifar (3)"
    statuses = page.page.eval_on_selector_all(".lt-task-row .lt-status", "els => els.map(e => e.getAttribute('aria-label'))")
    assert statuses == ["in progress", "failed", "completed"]
    page.shot("01-list", ".lt-sidebar-widget")
    # A new run appears on its own while the panel is visible.
    seeder.task("vision/cifar", "delta new", status="in_progress")
    page.wait_rows(["delta new", "gamma deep", "beta wide", "alpha baseline"])
    seeder._call("DELETE", f"tasks/{page.page.get_attribute('.lt-task-row >> nth=0', 'data-task-id')}")
    page.page.click(".lt-refresh")
    page.wait_rows(["gamma deep", "beta wide", "alpha baseline"])

    page.page.click(".lt-chip[data-status=failed]")
    page.wait_rows(["beta wide"])
    page.page.click(".lt-chip[data-status=failed]")
    page.wait_rows(["gamma deep", "beta wide", "alpha baseline"])

    page.page.fill(".lt-search", "ALPHA")
    page.wait_rows(["alpha baseline"])
    page.page.fill(".lt-search", "")
    page.wait_rows(["gamma deep", "beta wide", "alpha baseline"])

    page.page.fill(".lt-tags", "baseline")
    page.page.press(".lt-tags", "Enter")
    page.wait_rows(["alpha baseline"])
    page.page.fill(".lt-tags", "")
    page.page.press(".lt-tags", "Enter")
    page.wait_rows(["gamma deep", "beta wide", "alpha baseline"])

    # Sort by the last value of a metric, on the server (descending first, then ascending).
    page.page.select_option(".lt-sort", "metric:loss/train")
    page.wait_rows(["beta wide", "gamma deep", "alpha baseline"])
    page.page.click(".lt-sort-dir")
    page.wait_rows(["alpha baseline", "gamma deep", "beta wide"])
    # The sort metric's value is the row's column: the number in full, the metric named below it.
    assert page.page.inner_text(".lt-task-row >> nth=0 >> .lt-task-value-key") == "loss/train"
    assert page.page.inner_text(".lt-task-row >> nth=0 >> .lt-task-value-number").replace(".", "", 1).isdigit()

    # Multi-select enables Compare.
    assert page.page.is_disabled(".lt-compare")
    page.page.locator(".lt-task-check").nth(0).check()
    page.page.locator(".lt-task-check").nth(1).check()
    assert page.page.is_enabled(".lt-compare")
    assert "Compare 2" in page.page.inner_text(".lt-compare")
    page.shot("02-selected")

    page.set_theme(dark=True)
    page.shot("03-dark", ".lt-sidebar-widget")
    page.set_theme(dark=False)

    # The tracking server goes away after the rows loaded: they stay, marked stale with the
    # proxy's message; a retry while it is down keeps them; once it is back the badge goes.
    page.errors.expect("status of 502 (Bad Gateway)")  # Chromium logs each failed request
    rows_before = page.page.locator(".lt-task-row").count()
    tracking_server.stop()
    page.page.click(".lt-refresh")
    page.page.wait_for_selector(".lt-stale", timeout=20_000)
    assert "did not answer" in (page.page.get_attribute(".lt-stale", "title") or "")
    assert page.page.locator(".lt-task-row").count() == rows_before
    assert page.page.locator(".lt-error").count() == 0
    page.shot("04-stale", ".lt-sidebar-widget")
    page.page.click(".lt-stale")
    page.page.wait_for_selector(".lt-stale", timeout=20_000)
    tracking_server.start()
    page.page.wait_for_selector(".lt-stale", state="detached", timeout=30_000)
    assert page.page.locator(".lt-error").count() == 0
