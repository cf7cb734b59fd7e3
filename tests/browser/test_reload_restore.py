"""A reload of JupyterLab brings back the open task views and Compare tabs, and the sidebar's
project, filters and selection; runs are named by number and short id in tabs and chips."""

from __future__ import annotations

import requests
from polling import wait_for as wait_until
from seed import loss_curve

PROJECT = "restore/sweep"


def saved_workspace(lab) -> dict:
    """The workspace JupyterLab saved on the server (what a reload starts from)."""
    response = requests.get(lab.url("lab/api/workspaces/default"), headers=lab.headers, timeout=10)
    return response.json() if response.ok else {}


def test_reload_restores_task_tabs_compare_and_sidebar(lab_page, lab, seeder):
    runs = []
    for lr in (0.1, 0.03, 0.01):
        task = seeder.task(PROJECT, "digits-sgd", {"lr": lr, "epochs": 5}, status="completed")
        seeder.curve(task["id"], "loss", "train", loss_curve(50, lr))
        runs.append(task)
    failed = seeder.task(PROJECT, "digits-sgd", {"lr": 1.0, "epochs": 5}, status="failed")
    seeder.task("restore/other", "newer project's run")  # the default would be this newer project
    first, second, third = runs

    page = lab_page
    page.open_sidebar(PROJECT)
    page.wait_rows(["digits-sgd"] * 4)
    page.page.click(".lt-chip[data-status=completed]")
    page.wait_rows(["digits-sgd"] * 3)
    page.page.fill(".lt-search", "sgd")
    page.page.check(f".lt-task-row[data-task-id='{first['id']}'] .lt-task-check")
    page.page.check(f".lt-task-row[data-task-id='{third['id']}'] .lt-task-check")

    # Two task tabs, named by number and short id (all four runs share the name).
    for task, number in ((first, 1), (second, 2)):
        page.page.click(f".lt-task-row[data-task-id='{task['id']}'] .lt-task-text")
        page.page.wait_for_selector(f"#labtrack-task-{task['id']} .lt-overview")
    labels = page.page.evaluate(
        "() => [...window.jupyterapp.shell.widgets('main')].filter(w => w.id.startsWith('labtrack-task-')).map(w => w.title.label)"
    )
    assert labels == [f"digits-sgd #1 · {first['id'][:6]}", f"digits-sgd #2 · {second['id'][:6]}"]

    # Compare: chips named the same way; hovering one shows the parameters that differ.
    page.page.click(".lt-compare")
    chip = f".lt-run-chip[data-task-id='{third['id']}']"
    page.page.wait_for_selector(chip)
    assert page.page.inner_text(chip).strip().endswith(f"digits-sgd #3 · {third['id'][:6]}")
    hover = page.page.get_attribute(chip, "title")
    assert "General/lr = 0.01" in hover and "epochs" not in hover, hover
    page.page.wait_for_selector(".lt-compare[data-charts-drawn]")
    page.shot("01-before-reload")

    # Wait until JupyterLab has saved the layout and the sidebar state, then reload.
    ids = [first["id"], third["id"]]

    def saved() -> bool:
        data = saved_workspace(lab).get("data", {})
        sidebar = data.get("labtrack:plugin:sidebar", {})
        return (
            f"labtrack-task:{first['id']}" in data
            and f"labtrack-task:{second['id']}" in data
            and f"labtrack-compare:{','.join(ids)}" in data
            and sidebar.get("statuses") == ["completed"]
            and sidebar.get("search") == "sgd"
            and sorted(sidebar.get("selected", [])) == sorted(ids)
        )

    wait_until(saved, timeout=20, what="the workspace to hold the tabs and the sidebar state")
    page.open()

    # Both task tabs are back (behind the Compare tab, which is in front as it was).
    for task in (first, second):
        page.page.wait_for_selector(f"#labtrack-task-{task['id']} .lt-overview", state="attached")
    page.page.wait_for_selector(f"{chip}:has-text('digits-sgd #3')")
    page.page.wait_for_selector(f".lt-run-chip[data-task-id='{first['id']}']")
    page.command("labtrack:open-sidebar")
    page.wait_rows(["digits-sgd"] * 3)
    # The filters came back: the failed run stays out, the search text and the chip are set.
    rows = page.page.eval_on_selector_all(".lt-task-row", "els => els.map(e => e.dataset.taskId)")
    assert failed["id"] not in rows
    assert page.page.input_value(".lt-search") == "sgd"
    assert page.page.get_attribute(".lt-chip[data-status=completed]", "class").split().count("lt-chip-on") == 1
    assert page.page.eval_on_selector(".lt-project", "s => s.options[s.selectedIndex].text") == f"{PROJECT} (4)"
    checked = page.page.eval_on_selector_all(".lt-task-check:checked", "els => els.map(e => e.closest('.lt-task-row').dataset.taskId)")
    assert sorted(checked) == sorted(ids)
    assert "Compare 2" in page.page.inner_text(".lt-compare")
    page.shot("02-after-reload")
