"""Managing runs where they are listed: every run action from a row's context menu (and the task
view's Actions menu, a multi-selection, the palette), checked against the tracking server."""

from __future__ import annotations

import re
from typing import Any

import pytest
from polling import wait_for as wait_until

PROJECT = "manage/runs"


def row(task: dict[str, Any]) -> str:
    return f".lt-task-row[data-task-id='{task['id']}']"


def run_action(page: Any, task: dict[str, Any], command: str) -> str:
    """Right-click the task's row and choose `command` in the context menu; returns its label."""
    page.page.click(row(task), button="right")
    item = page.page.locator(f".lm-Menu .lm-Menu-item[data-command='{command}']")
    item.wait_for()
    label = item.locator(".lm-Menu-itemLabel").inner_text()
    item.click()
    return label


def answer(page: Any, value: str | None = None) -> str:
    """Fill the open dialog's input (when `value` is given) and accept; returns the dialog's text."""
    dialog = page.page.locator(".jp-Dialog")
    dialog.wait_for()
    text = dialog.inner_text()
    if value is not None:
        field = dialog.locator("input").first
        field.fill(value)
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    dialog.wait_for(state="detached")
    return text


def get(seeder: Any, task: dict[str, Any]) -> dict[str, Any]:
    return seeder._call("GET", f"tasks/{task['id']}")


def row_labels(page: Any) -> list[list[str]]:
    """Each row as [name, run number, short id]."""
    return page.page.eval_on_selector_all(
        ".lt-task-row",
        """rows => rows.map(r => [r.querySelector('.lt-task-name').textContent,
                                  (r.querySelector('.lt-run-number') || {}).textContent || '',
                                  r.querySelector('.lt-short-id').textContent])""",
    )


@pytest.mark.labtrack_settings({"refreshInterval": 2})
def test_run_actions_from_the_context_menu(lab_page, seeder):
    a = seeder.task(PROJECT, "digits-sgd", {"lr": 0.1}, tags=["baseline"])
    b = seeder.task(PROJECT, "digits-sgd", {"lr": 0.03})
    c = seeder.task(PROJECT, "digits-sgd", {"lr": 0.01}, status="in_progress")
    d = seeder.task(PROJECT, "other run")
    elsewhere = seeder.task("manage/elsewhere", "resident")

    page = lab_page
    page.open_sidebar(PROJECT)
    page.wait_rows(["other run", "digits-sgd", "digits-sgd", "digits-sgd"])
    # Same-named runs are numbered by creation; every row carries its short id.
    assert row_labels(page) == [
        ["other run", "", d["id"][:6]],
        ["digits-sgd", "#3", c["id"][:6]],
        ["digits-sgd", "#2", b["id"][:6]],
        ["digits-sgd", "#1", a["id"][:6]],
    ]

    # Rename from the context menu, then by double-clicking the name.
    assert run_action(page, d, "labtrack:rename-task") == "Rename…"
    answer(page, "other run v2")
    page.wait_rows(["other run v2", "digits-sgd", "digits-sgd", "digits-sgd"])
    assert get(seeder, d)["name"] == "other run v2"
    page.page.dblclick(f"{row(d)} .lt-task-name")
    answer(page, "reference run")
    page.wait_rows(["reference run", "digits-sgd", "digits-sgd", "digits-sgd"])
    assert get(seeder, d)["name"] == "reference run"

    # Tags: the dialog starts from the run's tags.
    run_action(page, a, "labtrack:edit-tags")
    assert page.page.input_value(".jp-Dialog input") == "baseline"
    answer(page, "baseline, best")
    page.page.wait_for_selector(f"{row(a)} .lt-tag:has-text('best')")
    assert get(seeder, a)["tags"] == ["baseline", "best"]

    # A multi-selection: the context menu of a selected row acts on the whole selection.
    page.page.check(f"{row(a)} .lt-task-check")
    page.page.check(f"{row(b)} .lt-task-check")
    page.page.click(row(b), button="right")
    page.page.wait_for_selector(".lm-Menu .lm-Menu-item[data-command='labtrack:archive-tasks']")
    # Only what applies is offered: nothing here is archived, running or (all) unfinished.
    commands = page.page.eval_on_selector_all(".lm-Menu .lm-Menu-item[data-command^='labtrack:']:not(.lm-mod-hidden)", "els => els.map(e => e.dataset.command)")
    assert "labtrack:restore-tasks" not in commands and "labtrack:abort-tasks" not in commands
    page.shot("01-context-menu")
    page.page.click(".lm-Menu .lm-Menu-item[data-command='labtrack:archive-tasks']")
    page.wait_rows(["reference run", "digits-sgd"])
    assert get(seeder, a)["archived"] and get(seeder, b)["archived"]
    # The archived filter lists them (numbers unchanged), and Restore brings them back.
    page.page.click(".lt-archived-filter")
    page.wait_rows(["digits-sgd", "digits-sgd"])
    assert [r[1] for r in row_labels(page)] == ["#2", "#1"]
    page.shot("02-archived", ".lt-sidebar-widget")
    assert run_action(page, a, "labtrack:restore-tasks") == "Restore (2)"
    page.page.wait_for_selector(".lt-empty:has-text('No archived experiments')")
    page.page.click(".lt-archived-filter")
    page.wait_rows(["reference run", "digits-sgd", "digits-sgd", "digits-sgd"])
    assert not get(seeder, a)["archived"] and not get(seeder, b)["archived"]
    page.page.click(".lt-clear")

    # Move to an existing project, then to a new one typed into the picker.
    assert run_action(page, d, "labtrack:move-tasks") == "Move to Project…"
    answer(page, "manage/elsewhere")
    page.wait_rows(["digits-sgd", "digits-sgd", "digits-sgd"])
    assert get(seeder, d)["project_id"] == elsewhere["project_id"]
    run_action(page, b, "labtrack:move-tasks")
    answer(page, "manage/brand-new")
    page.wait_rows(["digits-sgd", "digits-sgd"])
    moved = get(seeder, b)
    assert moved["project_name"] == "manage/brand-new"
    # …and the runs left behind are renumbered (#1 and #2 now).
    assert [r[1] for r in row_labels(page)] == ["#2", "#1"]

    # Abort a running task: first a request its process sees, then (asked again) a forced stop.
    assert run_action(page, c, "labtrack:abort-tasks") == "Abort…"
    text = answer(page)
    assert f"digits-sgd #2 · {c['id'][:6]}" in text, text
    wait_until(lambda: get(seeder, c)["stop_requested"], timeout=10)
    assert get(seeder, c)["status"] == "in_progress"
    page.page.wait_for_function(
        "sel => document.querySelector(sel) && window.jupyterapp.commands.label('labtrack:abort-tasks', {ids: [document.querySelector(sel).dataset.taskId]}) === 'Force Stop…'",
        arg=row(c),
    )
    assert run_action(page, c, "labtrack:abort-tasks") == "Force Stop…"
    answer(page)
    page.page.wait_for_selector(f"{row(c)} .lt-status-stopped")
    assert get(seeder, c)["status"] == "stopped"

    # Clone: a created draft with the same parameters opens in a tab named by number and id.
    run_action(page, a, "labtrack:clone-tasks")
    assert page.page.input_value(".jp-Dialog input") == "digits-sgd"
    answer(page)
    clone = wait_until(
        lambda: next(iter(seeder._call("GET", "tasks", params={"project": PROJECT, "status": "created"})["items"]), None),
        timeout=10,
    )
    assert clone["parent_id"] == a["id"] and clone["hyperparams"] == get(seeder, a)["hyperparams"]
    assert clone["run_number"] == 3
    view = f"#labtrack-task-{clone['id']}"
    page.page.wait_for_selector(f"{view} .lt-task-title:has-text('digits-sgd #3')")
    assert page.page.evaluate("() => window.jupyterapp.shell.currentWidget.title.label") == f"digits-sgd #3 · {clone['id'][:6]}"
    page.page.wait_for_selector(f"{view} tr[data-field='cloned from'] button:has-text('{a['id'][:6]}')")
    # The task view's Actions menu offers the same actions (rename here).
    page.page.click(f"{view} .lt-task-actions")
    page.page.click(".lt-run-menu .lm-Menu-item[data-command='labtrack:rename-task']")
    answer(page, "digits-sgd retry")
    page.page.wait_for_selector(f"{view} .lt-task-title:has-text('digits-sgd retry')")
    assert get(seeder, clone)["name"] == "digits-sgd retry"
    page.page.wait_for_selector(f"{row(clone)} .lt-task-name:has-text('digits-sgd retry')")

    # Publish a finished run.
    assert run_action(page, a, "labtrack:publish-tasks") == "Publish…"
    answer(page)
    page.page.wait_for_selector(f"{row(a)} .lt-status-published")
    assert get(seeder, a)["status"] == "published"

    # Delete, after a confirmation naming what goes; its open view closes.
    run_action(page, clone, "labtrack:delete-tasks")
    dialog = page.page.locator(".jp-Dialog")
    dialog.wait_for()
    assert f"digits-sgd retry · {clone['id'][:6]}" in dialog.inner_text()
    assert "cannot be undone" in dialog.inner_text()
    page.shot("03-delete-confirm")
    answer(page)
    page.page.wait_for_selector(row(clone), state="detached")
    page.page.wait_for_selector(view, state="detached")
    with pytest.raises(RuntimeError, match="404"):
        get(seeder, clone)

    # Palette form: acts on the sidebar's selection.
    page.page.check(f"{row(c)} .lt-task-check")
    assert page.page.evaluate("() => window.jupyterapp.commands.label('labtrack:archive-tasks', {palette: true})") == "labtrack: Archive Experiments"
    page.command("labtrack:archive-tasks", {"palette": True})
    wait_until(lambda: get(seeder, c)["archived"], timeout=10)
    page.wait_rows(["digits-sgd"])

    # A new project from the picker's "+" is created and shown.
    page.page.click(".lt-new-project")
    answer(page, "manage/fresh")
    page.page.wait_for_function(
        "() => { const s = document.querySelector('.lt-project'); return s.options[s.selectedIndex].text === 'manage/fresh (0)'; }"
    )
    assert any(p["name"] == "manage/fresh" for p in seeder._call("GET", "projects")["items"])


def test_run_actions_in_the_dark_theme(lab_page, seeder):
    for lr in (0.1, 0.03):
        seeder.task("manage/dark", "digits-sgd", {"lr": lr}, status="completed")
    seeder.task("manage/dark", "digits-sgd", {"lr": 0.01}, status="in_progress")
    page = lab_page
    page.open_sidebar("manage/dark")
    page.wait_rows(["digits-sgd"] * 3)
    page.set_theme(dark=True)
    first = page.page.get_attribute(".lt-task-row >> nth=0", "data-task-id")
    page.page.click(f".lt-task-row[data-task-id='{first}']", button="right")
    page.page.wait_for_selector(".lm-Menu .lm-Menu-item[data-command='labtrack:abort-tasks']")
    # Theme variables only: the menu and the rows are dark.
    background = page.page.eval_on_selector(".lt-sidebar-widget", "e => getComputedStyle(e).backgroundColor")
    assert re.match(r"rgb\((\d+), (\d+), (\d+)\)", background) and sum(map(int, re.findall(r"\d+", background)[:3])) < 200, background
    page.shot("01-dark-context-menu")
    page.page.keyboard.press("Escape")
    page.set_theme(dark=False)
