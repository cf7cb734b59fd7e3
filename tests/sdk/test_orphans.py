"""Spools left by a process killed while the server was down are replayed: by the next Task.init or `sync --all`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from labtrack.sdk.orphans import find_orphans, folder_lock
from labtrack.sdk.owners import owner_alive, owner_marker
from labtrack.sdk.spool import SessionFolder, loads
from polling import read_line
from tests.sdk.conftest import task_id_from, wait_for

DOOMED = """
import labtrack
task = labtrack.Task.init("sdk/orphans", "doomed")
print("TASK", task.id, flush=True)
log = task.get_logger()
for i in range(300):
    log.report_scalar("loss", "train", i * 0.5, i)
task.flush(30)
print("PHASE1", flush=True)
input()  # the test stops the server here
for i in range(300, 800):
    log.report_scalar("loss", "train", i * 0.5, i)
print("PHASE2", flush=True)
input()  # never answered: the test kills this process
"""

NEXT_RUN = """
import labtrack
from labtrack.sdk import orphans
task = labtrack.Task.init("sdk/orphans", "next")
print("SWEPT", orphans.wait_for_sweep(60), flush=True)
"""


def _spooled_iterations(root: Path) -> list[int]:
    its: list[int] = []
    for folder in root.iterdir() if root.is_dir() else []:
        for path in sorted((folder / "ops").glob("*.json")) if (folder / "ops").is_dir() else []:
            try:
                op = loads(path.read_bytes())
            except ValueError:
                continue
            its += [i for e in op.get("events", ()) if e.get("type") == "scalars" for i in e["iterations"]]
    return sorted(its)


def _kill_during_outage(scripts, tracking_server, spool: Path) -> tuple[str, Path]:
    """Run DOOMED: 300 points delivered, the server stops, 500 more spooled, then kill -9."""
    proc = scripts.start(DOOMED, LABTRACK_SPOOL_DIR=str(spool), LABTRACK_REPLAY_ORPHANS="0")
    task_id = task_id_from(read_line(proc, what="the TASK line"))
    assert read_line(proc, what="PHASE1").strip() == "PHASE1"
    tracking_server.stop()
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert read_line(proc, what="PHASE2").strip() == "PHASE2"
    wait_for(lambda: _spooled_iterations(spool)[-1:] == [799], what="the outage's points to reach the spool")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    folders = [p for p in spool.iterdir() if p.is_dir()]
    assert len(folders) == 1
    owner = json.loads((folders[0] / "session.json").read_text())["owner"]
    assert owner["pid"] == proc.pid and not owner_alive(owner)
    tracking_server.start()
    return task_id, folders[0]


def test_next_task_init_replays_a_killed_runs_spool_exactly_once(scripts, tracking_server, tmp_path) -> None:
    spool = tmp_path / "spool"
    task_id, folder = _kill_during_outage(scripts, tracking_server, spool)
    its, _ = scripts.series(task_id, "loss", "train")
    assert its == list(range(300)), "before the replay only what was sent before the outage is there"

    first = scripts.run(NEXT_RUN, LABTRACK_SPOOL_DIR=str(spool))
    assert "SWEPT True" in first.stdout, first.stderr
    assert "replayed" in first.stderr and task_id in first.stderr
    its, vals = scripts.series(task_id, "loss", "train")
    assert its == list(range(800)) and vals == [i * 0.5 for i in range(800)]
    _assert_process_died(scripts, task_id)
    assert not folder.exists() and [p for p in spool.iterdir() if not p.name.startswith(".")] == []

    second = scripts.run(NEXT_RUN, LABTRACK_SPOOL_DIR=str(spool))
    assert "SWEPT True" in second.stdout and "replayed" not in second.stderr
    its, _ = scripts.series(task_id, "loss", "train")
    assert len(its) == 800


def test_sync_all_replays_by_hand_and_leaves_live_owners_alone(scripts, tracking_server, tmp_path) -> None:
    spool = tmp_path / "spool"
    task_id, folder = _kill_during_outage(scripts, tracking_server, spool)

    # A folder whose owner still runs (a live sleeper) must not be touched, even by --all; the
    # same folder claiming a reused pid (another start time) is an orphan.
    live_task = scripts.post("/tasks", {"name": "live", "project_name": "sdk/orphans"})["id"]
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        live = SessionFolder(spool / f"{live_task}-live")
        live.create({"task_id": live_task, "api_url": tracking_server.url, "owner": owner_marker(sleeper.pid)})
        live.write_op(1, {"op": "events", "batch_id": "live-1", "events": [
            {"type": "scalars", "metric": "m", "variant": "v", "iterations": [0], "values": [1.0]}]})
        assert [s.root for s in find_orphans(spool)] == [folder]

        sync = [sys.executable, "-m", "labtrack", "sync", "--all"]
        env = scripts.env(LABTRACK_SPOOL_DIR=str(spool))
        done = subprocess.run(sync, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert task_id in done.stdout and "folder removed" in done.stdout and "marked failed" in done.stdout
        its, vals = scripts.series(task_id, "loss", "train")
        assert its == list(range(800)) and vals == [i * 0.5 for i in range(800)]
        _assert_process_died(scripts, task_id)
        assert scripts.get(f"/tasks/{live_task}")["status"] == "created", "a live owner's task is left alone"
        assert not folder.exists() and live.pending_count() == 1
        assert scripts.series(live_task, "m", "v")[0] == []

        again = subprocess.run(sync, env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0 and "nothing to replay" in again.stdout, again.stderr
        assert len(scripts.series(task_id, "loss", "train")[0]) == 800

        reused = dict(owner_marker(sleeper.pid), started=psutil.Process(sleeper.pid).create_time() - 3600)
        assert owner_alive(owner_marker(sleeper.pid)) and not owner_alive(reused)
    finally:
        sleeper.kill()
        sleeper.wait(10)
    # Its owner gone, the live folder is an orphan too and the next run replays it.
    scripts.run(NEXT_RUN, LABTRACK_SPOOL_DIR=str(spool))
    assert scripts.series(live_task, "m", "v")[0] == [0] and not live.root.exists()


def _assert_process_died(scripts, task_id: str) -> None:
    """The replay ended a task whose process was killed before it could: failed, "process died"."""
    task = scripts.get(f"/tasks/{task_id}")
    assert task["status"] == "failed" and task["status_reason"] == "process died", task
    assert "ended without a status" in task["status_message"]


def test_a_process_attached_to_the_task_keeps_it_running_through_the_replay(scripts, tracking_server,
                                                                            tmp_path) -> None:
    spool = tmp_path / "spool"
    task_id, folder = _kill_during_outage(scripts, tracking_server, spool)
    resumed = scripts.run(f"""
import labtrack
from labtrack.sdk import orphans
task = labtrack.Task.init(continue_last_task="{task_id}")
print("SWEPT", orphans.wait_for_sweep(60), flush=True)
print("STATUS", task.status, flush=True)
""", LABTRACK_SPOOL_DIR=str(spool))
    assert "SWEPT True" in resumed.stdout and "STATUS in_progress" in resumed.stdout, resumed.stderr
    assert not folder.exists() and len(scripts.series(task_id, "loss", "train")[0]) == 800
    assert scripts.get(f"/tasks/{task_id}")["status"] == "completed", "the resumed run ended it, not the replay"


def test_sync_all_with_the_server_down_keeps_the_folder(scripts, tracking_server, tmp_path) -> None:
    spool = tmp_path / "spool"
    folder = SessionFolder(spool / "t-dead")
    folder.create({"task_id": "t", "api_url": tracking_server.url, "owner": {"pid": 2**22 + 1, "started": 1.0}})
    folder.write_op(1, {"op": "events", "batch_id": "b-1", "events": []})
    tracking_server.stop()
    try:
        env = scripts.env(LABTRACK_SPOOL_DIR=str(spool))
        done = subprocess.run([sys.executable, "-m", "labtrack", "sync", "--all"], env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 1 and "run the same command again" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and folder.pending_count() == 1
    finally:
        tracking_server.start()


def test_a_locked_folder_is_left_to_the_process_replaying_it(scripts, tracking_server, tmp_path) -> None:
    task_id = scripts.post("/tasks", {"name": "locked", "project_name": "sdk/orphans"})["id"]
    folder = SessionFolder(tmp_path / "spool" / f"{task_id}-dead")
    folder.create({"task_id": task_id, "api_url": tracking_server.url, "owner": {"pid": 2**22 + 1, "started": 1.0}})
    folder.write_op(1, {"op": "events", "batch_id": "locked-1", "events": [
        {"type": "scalars", "metric": "m", "variant": "v", "iterations": [0, 1], "values": [1.0, 2.0]}]})
    sync = [sys.executable, "-m", "labtrack", "sync", "--all"]
    env = scripts.env(LABTRACK_SPOOL_DIR=str(folder.root.parent))
    with folder_lock(folder) as mine:
        with folder_lock(folder) as second:
            assert mine and not second
        held = subprocess.run(sync, env=env, capture_output=True, text=True, timeout=60)
        assert held.returncode == 0 and "another process is replaying it" in held.stdout, held.stderr
        assert folder.pending_count() == 1 and scripts.series(task_id, "m", "v")[0] == []
    done = subprocess.run(sync, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert scripts.series(task_id, "m", "v") == ([0, 1], [1.0, 2.0]) and not folder.root.exists()
