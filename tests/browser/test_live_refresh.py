"""Live refresh in a real JupyterLab: the sidebar asks only for what changed since the newest
`last_update` it has seen, and the compare panel follows running runs until they finish."""

from __future__ import annotations

import json
import time

import pytest
from browser_requests import RequestLog
from seed import loss_curve

PROJECT = "browser/livelist"


@pytest.mark.labtrack_settings({"defaultProject": PROJECT, "refreshInterval": 1})
def test_sidebar_polls_only_changed_rows(lab_page, seeder):
    for i in range(20):
        seeder.task(PROJECT, f"old {i:02d}", {"lr": i / 100}, status="completed")
    seeded = time.monotonic()
    page = lab_page
    page.open_sidebar(PROJECT)
    page.page.wait_for_function("() => document.querySelectorAll('.lt-task-row').length === 20")
    # The old rows end up more than the poll's 2 s margin behind the newest change.
    time.sleep(max(0.0, 2.5 - (time.monotonic() - seeded)))

    # A new run shows up at the top (newest first) without a click.
    running = seeder.task(PROJECT, "live run", {"lr": 0.5}, status="in_progress")
    seeder.curve(running["id"], "loss", "train", loss_curve(10, 0.5))
    row = f".lt-task-row[data-task-id='{running['id']}']"
    page.page.wait_for_selector(f"{row} .lt-task-metric:has-text('iter 9')", timeout=15_000)
    assert page.row_names()[0] == "live run"

    log = RequestLog(page.page, "/labtrack/api/v1/tasks?")
    # It gains points and finishes while the sidebar is open: the row follows, no click.
    seeder.curve(running["id"], "loss", "train", loss_curve(40, 0.5)[:40], start=10)
    page.page.wait_for_selector(f"{row} .lt-task-metric:has-text('iter 49')", timeout=15_000)
    seeder._call("POST", f"tasks/{running['id']}/complete", json={})
    page.page.wait_for_selector(f"{row} .lt-status[aria-label='completed']", timeout=15_000)
    page.page.wait_for_timeout(2500)  # a few idle polls (this also delivers the request events)
    polls = log.stop()
    page.shot("01-live-row", ".lt-sidebar-widget")

    assert len(polls) >= 3, polls
    for poll in polls:
        # Every poll asks only for changes since a server time, newest change first.
        assert poll.query.get("updated_after"), poll.query
        assert poll.query.get("sort") == "-last_update", poll.query
        assert int(poll.query["limit"]) <= 100, poll.query
        # Only the running row changed (the 20 others are older than the margin).
        assert [t["name"] for t in poll.items] in ([], ["live run"]), poll
    assert len(page.row_names()) == 21 and page.row_names()[0] == "live run"
    print(f"sidebar live polls: {len(polls)}, rows per poll: {[len(p.items) for p in polls]}")

    # A run that stops matching the status filter leaves the list on the next poll.
    other = seeder.task(PROJECT, "second run", status="in_progress")
    page.page.wait_for_selector(f".lt-task-row[data-task-id='{other['id']}']", timeout=15_000)
    page.page.click(".lt-chip[data-status=in_progress]")
    page.wait_rows(["second run"])
    seeder._call("POST", f"tasks/{other['id']}/complete", json={})
    page.page.wait_for_selector(".lt-empty:has-text('No experiments match these filters')", timeout=15_000)


@pytest.mark.labtrack_settings({"refreshInterval": 1})
def test_compare_panel_follows_a_running_run(lab_page, seeder):
    done = seeder.task("browser/livecompare", "finished", {"lr": 0.1}, status="completed")
    seeder.curve(done["id"], "loss", "train", loss_curve(100, 0.1))
    running = seeder.task("browser/livecompare", "running", {"lr": 0.3}, status="in_progress")
    seeder.curve(running["id"], "loss", "train", loss_curve(100, 0.3)[:50])

    page = lab_page
    page.command("labtrack:compare-selected", {"ids": [done["id"], running["id"]]})
    page.page.wait_for_selector(".lt-compare[data-live-runs='1'][data-charts-drawn='1']")
    chart = ".lt-compare-chart[data-metric=loss] .js-plotly-plot"
    # Legend entries are run labels ("finished · 1a2b3c"): key them by the name.
    lengths = f"() => Object.fromEntries(document.querySelector({json.dumps(chart)}).data.map(t => [t.name.split(' · ')[0], t.x.length]))"
    assert page.page.evaluate(lengths) == {"finished": 100, "running": 50}

    log = RequestLog(page.page, "/labtrack/api/v1/")
    seeder.curve(running["id"], "loss", "train", loss_curve(100, 0.3)[50:], start=50)
    page.page.wait_for_function(f"() => ({lengths})().running === 100", timeout=15_000)
    assert page.page.evaluate(lengths) == {"finished": 100, "running": 100}
    page.shot("01-compare-live")
    # A poll sent just before the log started can be the one that saw the new points (its answer
    # arrived after they were stored); the next poll, a second later, is then the one to inspect.
    log.wait_for("/tasks")
    seen = log.stop()
    scalars = [s.query for s in seen if s.path.endswith("/scalars")]
    polls = [s.query for s in seen if s.path.endswith("/tasks")]
    # The runs are polled by id; only the running run's curve is read again.
    assert polls and all(q.get("ids") == running["id"] for q in polls), polls
    assert scalars and all(q.get("task_ids") == running["id"] for q in scalars), scalars
    print(f"compare live: {len(polls)} task polls, {len(scalars)} curve reads, {len(seen)} requests")

    # Hidden behind another tab, the panel stops polling; shown again, it goes on.
    compare_id = page.page.evaluate(
        "() => [...window.jupyterapp.shell.widgets('main')].find(w => w.id.startsWith('labtrack-compare-')).id"
    )
    page.command("labtrack:open-task", {"id": done["id"]})
    page.page.wait_for_selector(f"#labtrack-task-{done['id']} .lt-task-view")
    page.page.wait_for_timeout(1200)  # a poll already in flight may land
    hidden = RequestLog(page.page, "/labtrack/api/v1/tasks?ids=")
    page.page.wait_for_timeout(2500)
    assert hidden.stop() == [], "the hidden compare panel kept polling"
    page.page.evaluate("id => window.jupyterapp.shell.activateById(id)", compare_id)

    # When the run finishes the panel shows it and stops polling.
    seeder._call("POST", f"tasks/{running['id']}/complete", json={})
    page.page.wait_for_selector(f".lt-run-chip[data-task-id='{running['id']}'][data-status=completed]", timeout=15_000)
    page.page.wait_for_selector(".lt-compare[data-live-runs='0']")
    after = RequestLog(page.page, "/labtrack/api/v1/tasks?ids=")
    page.page.wait_for_timeout(2500)
    assert after.stop() == [], "the compare panel kept polling finished runs"
