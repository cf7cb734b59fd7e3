"""The Queues panel in a real JupyterLab against a real tracking server: the tasks waiting in a
queue (move to top, up, down, remove), a worker with its current task, heartbeat and CPU / GPU
use, aborting the task it runs, and enqueueing a task from the experiments list's context menu.

The worker is registered, heartbeats and pops through the same REST calls the agent makes
(docs/api.md, queues and workers); the abort test runs a real `labtrack agent` instead."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from screenshots import docs_img
from agent_lab import Lab

GB = 1024**3

# A run of about a minute that reports a scalar every step (so it is busy when it is aborted).
LONG_RUN = """
import time
import labtrack
task = labtrack.Task.init("queues-abort", "long run")
log = task.get_logger()
for i in range(600):
    log.report_scalar("loss", "train", 1.0 / (i + 1), i)
    print("step", i, flush=True)
    time.sleep(0.1)
"""
# The next one in the queue: long enough for the panel to show it as the worker's current task.
NEXT_RUN = """
import time
for i in range(300):
    print("next", i, flush=True)
    time.sleep(0.1)
"""


class Api:
    def __init__(self, server: Any):
        self.base = server.api
        self.session = requests.Session()
        self.session.headers.update(server.headers)

    def __call__(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.session.request(method, f"{self.base}/{path}", json=body, timeout=30)
        assert answer.status_code < 400, f"{method} {path}: {answer.status_code} {answer.text[:300]}"
        return answer.json() if answer.content else None


def _pending(page: Any, queue: str) -> list[str]:
    return page.eval_on_selector_all(
        f".lt-q-queue[data-queue='{queue}'] .lt-q-entry .lt-q-task", "els => els.map(e => e.textContent)"
    )


def _wait_pending(page: Any, queue: str, names: list[str]) -> None:
    page.wait_for_function(
        """([q, names]) => JSON.stringify([...document.querySelectorAll(`.lt-q-queue[data-queue='${q}'] .lt-q-entry .lt-q-task`)]
            .map(e => e.textContent)) === JSON.stringify(names)""",
        arg=[queue, names],
        timeout=20_000,
    )


def _shot_panel(page: Any, path: Path) -> None:
    """The queues panel down to its last worker (the panel itself is as tall as the window)."""
    top = page.locator(".lt-queues").bounding_box()
    bottom = page.locator(".lt-q-worker").last.bounding_box()
    assert top and bottom
    page.screenshot(path=str(path), clip={"x": top["x"], "y": top["y"], "width": top["width"],
                                          "height": bottom["y"] + bottom["height"] + 8 - top["y"]})


def test_queues_panel_reorders_removes_aborts_and_enqueues(lab_page, seeder, tracking_server):
    api = Api(tracking_server)
    api("POST", "queues", {"name": "gpu", "description": "the H100 box"})
    tasks = {name: seeder.task("vision", name, status="created") for name in ("train-a", "train-b", "train-c", "train-d")}
    finished = seeder.task("vision", "train-e", {"lr": 0.1, "epochs": 3}, status="completed")
    for name in ("train-a", "train-b", "train-c", "train-d"):
        api("POST", "queues/gpu/entries", {"task_id": tasks[name]["id"]})
    worker = api(
        "POST",
        "workers",
        {
            "name": "gpu-box:agent-1",
            "queues": ["gpu"],
            "resources": {"hostname": "gpu-box", "cpu_count": 8, "memory_total": 64 * GB,
                          "gpus": [{"index": 0, "name": "NVIDIA H100", "memory_total": 80 * GB}]},
        },
    )
    popped = api("POST", "queues/pop", {"queues": ["gpu"], "worker": worker["id"]})
    assert popped["task"]["id"] == tasks["train-a"]["id"]
    usage = {"cpu_percent": 42.0, "memory_used": 12 * GB, "gpus": [{"index": 0, "utilization": 97.0, "memory_used": 40 * GB}]}
    api("POST", f"workers/{worker['id']}/heartbeat", {"task_id": tasks["train-a"]["id"], "usage": usage})

    page = lab_page.page
    lab_page.command("labtrack:open-queues")
    _wait_pending(page, "gpu", ["train-b", "train-c", "train-d"])
    assert page.get_attribute(".lt-q-queue[data-queue='gpu'] .lt-q-pending", "data-pending") == "3"
    assert page.get_attribute(".lt-q-queue[data-queue='default'] .lt-q-pending", "data-pending") == "0"
    card = ".lt-q-worker[data-worker='gpu-box:agent-1']"
    assert page.text_content(f"{card} .lt-q-current .lt-q-task") == "train-a"
    gauges = page.eval_on_selector_all(f"{card} .lt-q-gauge", "els => els.map(e => e.textContent)")
    assert gauges == ["CPU 42% of 8", "RAM 12.0 GB of 64.0 GB", "GPU0 97% 40.0 GB"]
    assert "pulls gpu" in page.text_content(card)
    lab_page.shot("01-panel", ".lt-queues")

    def entries() -> list[str]:
        return [e["task"]["name"] for e in api("GET", "queues/gpu/entries")["items"]]

    # Move to top, move down, remove: the server's pop order follows.
    page.click(f".lt-q-entry[data-task-id='{tasks['train-d']['id']}'] .lt-q-top")
    _wait_pending(page, "gpu", ["train-d", "train-b", "train-c"])
    assert entries() == ["train-d", "train-b", "train-c"]
    page.click(f".lt-q-entry[data-task-id='{tasks['train-b']['id']}'] .lt-q-down")
    _wait_pending(page, "gpu", ["train-d", "train-c", "train-b"])
    assert entries() == ["train-d", "train-c", "train-b"]
    page.click(f".lt-q-entry[data-task-id='{tasks['train-c']['id']}'] .lt-q-remove")
    _wait_pending(page, "gpu", ["train-d", "train-b"])
    assert entries() == ["train-d", "train-b"]
    assert api("GET", f"tasks/{tasks['train-c']['id']}")["status"] == "created"
    assert page.is_disabled(f".lt-q-entry[data-task-id='{tasks['train-d']['id']}'] .lt-q-up")

    # Abort the running task: after the confirmation the agent's next heartbeat is told to stop.
    page.click(f"{card} .lt-q-abort")
    dialog = page.locator(".jp-Dialog")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    page.wait_for_selector(".jp-Dialog", state="detached")
    beat = api("POST", f"workers/{worker['id']}/heartbeat", {"task_id": tasks["train-a"]["id"], "usage": usage})
    assert beat == {"stop_requested": True}

    # Enqueue from the experiments list's context menu: the removed task goes back to gpu.
    lab_page.open_sidebar("vision")
    row = f".lt-task-row[data-task-id='{tasks['train-c']['id']}']"
    page.click(row, button="right")
    page.click(".lm-Menu .lm-Menu-item[data-command='labtrack:enqueue-tasks']")
    dialog = page.locator(".jp-Dialog")
    dialog.locator("select").select_option("gpu")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    page.wait_for_selector(".jp-Dialog", state="detached")
    assert api("GET", f"tasks/{tasks['train-c']['id']}")["status"] == "queued"
    lab_page.command("labtrack:open-queues")
    _wait_pending(page, "gpu", ["train-d", "train-b", "train-c"])
    # A running task is not offered the action (only created, stopped or failed ones are).
    lab_page.open_sidebar("vision", refresh=False)
    page.click(f".lt-task-row[data-task-id='{tasks['train-a']['id']}']", button="right")
    page.wait_for_selector(".lm-Menu .lm-Menu-item[data-command='labtrack:abort-tasks']")
    offered = page.eval_on_selector_all(".lm-Menu .lm-Menu-item:not(.lm-mod-hidden)", "els => els.map(e => e.dataset.command)")
    assert "labtrack:enqueue-tasks" not in offered
    page.keyboard.press("Escape")

    # Clone a finished run, change a parameter in the draft's task view, enqueue it from there.
    page.click(f".lt-task-row[data-task-id='{finished['id']}']", button="right")
    page.click(".lm-Menu .lm-Menu-item[data-command='labtrack:clone-tasks']")
    dialog = page.locator(".jp-Dialog")
    dialog.locator("input").fill("train-e lr 0.01")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.lt-task-row .lt-task-name')].some(e => e.textContent === 'train-e lr 0.01')",
        timeout=20_000,
    )
    draft = next(t for t in api("GET", "tasks?search=lr%200.01&limit=10")["items"] if t["name"] == "train-e lr 0.01")
    view = f"#labtrack-task-{draft['id']}"
    page.wait_for_selector(view)
    page.click(f"{view} .lt-tab[data-tab='Hyperparameters']")
    page.click(f"{view} .lt-hparams-edit")
    page.fill(f"{view} input[aria-label='General/lr']", "0.01")
    page.click(f"{view} .lt-hparams-save")
    page.wait_for_selector(f"{view} tr[data-param='General/lr'] td:text-is('0.01')")
    hyper = api("GET", f"tasks/{draft['id']}")["hyperparams"]["General"]
    assert (hyper["lr"]["value"], hyper["epochs"]["value"]) == ("0.01", "3")
    assert api("GET", f"tasks/{finished['id']}")["hyperparams"]["General"]["lr"]["value"] == "0.1"
    lab_page.shot("03-draft-params", view)
    page.click(f"{view} .lt-task-actions")
    page.click(".lm-Menu .lm-Menu-item[data-command='labtrack:enqueue-tasks']")
    dialog = page.locator(".jp-Dialog")
    dialog.locator("select").select_option("gpu")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    # Queued, the draft's values are no longer editable.
    page.wait_for_selector(f"{view} .lt-hparams-edit", state="detached")
    assert api("GET", f"tasks/{draft['id']}")["status"] == "queued"

    lab_page.command("labtrack:open-queues")
    _wait_pending(page, "gpu", ["train-d", "train-b", "train-c", "train-e lr 0.01"])
    lab_page.set_theme(dark=True)
    lab_page.shot("02-dark")


@pytest.mark.labtrack_settings({"refreshInterval": 1})
def test_queues_panel_polls_only_while_visible(lab_page, seeder, tracking_server):
    """The panel reads nothing until it is opened, refreshes on its own while shown (a task
    enqueued meanwhile appears), and asks nothing while another panel hides it."""
    api = Api(tracking_server)
    page = lab_page.page
    # Playwright delivers events during its own calls: wait with page.wait_for_timeout, not sleep.
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/labtrack/api/v1/queues" in r.url else None)
    page.wait_for_timeout(2500)
    assert asked == [], "the queues panel read the server before it was opened"

    lab_page.command("labtrack:open-queues")
    page.wait_for_selector(".lt-q-queue[data-queue='default']")
    task = seeder.task("vision", "late-arrival", status="created")
    api("POST", f"tasks/{task['id']}/enqueue", {"queue": "default"})
    _wait_pending(page, "default", ["late-arrival"])  # no click: the live refresh found it

    lab_page.command("labtrack:open-sidebar")
    page.wait_for_selector("#labtrack-queues", state="hidden")
    page.wait_for_timeout(1500)  # a refresh already under way may still land
    before = len(asked)
    page.wait_for_timeout(3500)
    assert len(asked) == before, f"the queues panel polled while hidden: {asked[before:]}"
    lab_page.command("labtrack:open-queues")
    deadline = time.monotonic() + 10
    while len(asked) == before and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert len(asked) > before, "the queues panel did not refresh once shown again"


@pytest.mark.labtrack_settings({"refreshInterval": 1})
def test_abort_in_the_queues_panel_stops_a_real_agents_run_and_it_takes_the_next(lab_page, tracking_server, tmp_path):
    """A real agent runs a long task with another waiting: the worker row shows the task, its last
    heartbeat and CPU use; Abort there ends the run `stopped` and the agent takes the next one."""
    agents = Lab(tracking_server, tmp_path)
    try:
        long_id = agents.script_task(LONG_RUN, name="long-run")
        next_id = agents.script_task(NEXT_RUN, name="next-run")
        agents.enqueue(long_id)
        agents.enqueue(next_id)
        agents.start_agent("box-1")
        agents.wait_status(long_id, ("in_progress",), timeout=60)

        page = lab_page.page
        lab_page.command("labtrack:open-queues")
        card = ".lt-q-worker[data-worker='box-1']"
        page.wait_for_selector(f"{card} .lt-q-current .lt-q-task:text-is('long-run')", timeout=30_000)
        _wait_pending(page, "default", ["next-run"])
        assert page.text_content(f"{card} .lt-q-heartbeat").strip() == "♥\u00a0just now"
        # The heartbeat shown moves on with the agent's beats (the panel re-reads every second).
        first_beat = page.get_attribute(f"{card} .lt-q-heartbeat", "title")
        page.wait_for_function(
            "([sel, before]) => { const e = document.querySelector(sel); return e && e.title !== before; }",
            arg=[f"{card} .lt-q-heartbeat", first_beat], timeout=15_000,
        )
        # The agent's heartbeat carries its machine's use (the first one at once, so it is there).
        page.wait_for_function(
            "sel => [...document.querySelectorAll(sel)].some(e => /^CPU \\d+% of \\d+$/.test(e.textContent))",
            arg=f"{card} .lt-q-gauge", timeout=20_000,
        )
        gauges = page.eval_on_selector_all(f"{card} .lt-q-gauge", "els => els.map(e => e.textContent)")
        assert re.fullmatch(r"RAM \d+\.\d (MB|GB) of \d+\.\d GB", gauges[1]), gauges
        lab_page.shot("01-running", ".lt-queues")
        _shot_panel(page, docs_img("queues-abort-running.png"))

        page.click(f"{card} .lt-q-abort")
        dialog = page.locator(".jp-Dialog")
        dialog.wait_for()
        # The run as it is now, though the experiments list read it while it was still queued.
        assert dialog.locator(".lt-dialog-runs li .lt-dim").text_content() == "agent-tests · in progress"
        page.screenshot(path=str(docs_img("queues-abort-confirm.png")))
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        page.wait_for_selector(".jp-Dialog", state="detached")
        ended = agents.wait_status(long_id, timeout=60)
        assert (ended["status"], ended["status_message"]) == ("stopped", "aborted"), ended

        # The panel follows: the aborted run is gone from the worker, which now runs the next one.
        page.wait_for_selector(f"{card} .lt-q-current .lt-q-task:text-is('next-run')", timeout=30_000)
        _wait_pending(page, "default", [])
        assert agents.get(next_id)["status"] == "in_progress"
        assert page.locator(f"{card} .lt-q-task:text-is('long-run')").count() == 0
        lab_page.shot("02-next-picked-up", ".lt-queues")
        _shot_panel(page, docs_img("queues-abort-next.png"))
    finally:
        agents.stop_agents()
