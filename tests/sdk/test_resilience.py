"""Nothing acknowledged is lost: server outages, kill -9 of the training process, exit while down."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from polling import read_line
from tests.sdk.conftest import task_id_from, wait_for

# Recovery times and memory are measured: `make test` runs this module alone, after the parallel pass.
pytestmark = pytest.mark.serial

LOOP = """
import time, labtrack
task = labtrack.Task.init("sdk/resilience", "{name}")
print("TASK", task.id, flush=True)
log = task.get_logger()
for i in range({n}):
    log.report_scalar("loss", "train", i * 0.5, i)
    log.report_scalar("acc", "val", -i, i)
    time.sleep({sleep})
print("LOOP DONE", flush=True)
"""


def test_server_restart_mid_loop_every_point_exactly_once(scripts, tracking_server) -> None:
    n = 1500
    proc = scripts.start(LOOP.format(name="outage", n=n, sleep=0.004))
    task_id = task_id_from(read_line(proc, what="the TASK line"))
    wait_for(lambda: (scripts.get(f"/tasks/{task_id}")["last_iteration"] or 0) > 50, what="points before the outage")
    tracking_server.stop()
    time.sleep(2.5)  # the loop keeps reporting while nothing answers
    assert proc.poll() is None, "the training process must survive the outage"
    tracking_server.start()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    for metric, variant, factor in (("loss", "train", 0.5), ("acc", "val", -1)):
        its, vals = scripts.series(task_id, metric, variant)
        assert its == list(range(n)), f"{metric}: {len(its)} points, first gap near {_gap(its)}"
        assert vals == [i * factor for i in range(n)]
    assert scripts.get(f"/tasks/{task_id}")["status"] == "completed"


def _gap(its: list[int]) -> int:
    return next((i for i, v in enumerate(its) if v != i), -1)


FLUSH_INTERVAL = 0.5
# What one flush interval cannot cover: the sender pulls once per interval *after* each send, so
# just before a batch lands the oldest unsent point waited one interval plus two requests (the
# previous batch's and this one's), plus the sender waking late. One small batch takes ~10-50 ms
# here; 0.25 s leaves room for a loaded machine, and a second interval (0.5 s) does not fit in it.
IN_FLIGHT_MARGIN = 0.25


def test_kill_9_loses_at_most_the_last_flush_interval(scripts, tmp_path) -> None:
    """At every moment of a run, and so at a kill -9, what was reported more than one flush
    interval (+ the margin for requests in flight) ago is on the server."""
    progress = tmp_path / "progress.txt"
    code = """
import sys, time, labtrack
task = labtrack.Task.init("sdk/resilience", "kill9")
print("TASK", task.id, flush=True)
log = task.get_logger()
with open(sys.argv[1], "w") as progress:
    for i in range(1000000):
        log.report_scalar("loss", "train", i, i)
        progress.write(f"{i} {time.time()}\\n"); progress.flush()
        time.sleep(0.005)
"""
    # Heartbeats at their default pace: the sender's cycle is then one events request.
    proc = scripts.start(code, args=[str(progress)], LABTRACK_FLUSH_INTERVAL=str(FLUSH_INTERVAL),
                         LABTRACK_HEARTBEAT_INTERVAL="10")
    task_id = task_id_from(read_line(proc, what="the TASK line"))

    def stored() -> int:
        last = scripts.get(f"/tasks/{task_id}")["last_iteration"]
        return 0 if last is None else last + 1  # a gap-free prefix (checked below)

    wait_for(lambda: stored() > 100, what="the first points to arrive")
    # Sample what the server holds at many moments over several intervals (every phase of the
    # sender's cycle), then kill -9 at an arbitrary one.
    samples: list[tuple[float, int]] = []
    for _ in range(int(8 * FLUSH_INTERVAL / 0.05)):
        now = time.time()  # before the request: the answer holds at least what was stored now
        samples.append((now, stored()))
        time.sleep(0.05)
    killed_at = time.time()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    its, _ = scripts.series(task_id, "loss", "train")
    assert its == list(range(len(its))), "what arrived is a gap-free prefix"
    samples.append((killed_at, len(its)))
    lines = progress.read_text().split("\n")[:-1]  # a line cut by the kill has no newline yet
    reported = [float(line.split()[1]) for line in lines]

    def unsent_for(moment: float, count: int) -> float:
        """How long the oldest point missing from the server at `moment` had been reported."""
        return moment - reported[count] if count < len(reported) and reported[count] < moment else 0.0

    worst_at, worst = max(((t, unsent_for(t, n)) for t, n in samples), key=lambda s: s[1])
    where = "at the kill" if worst_at == killed_at else f"{killed_at - worst_at:.2f} s before the kill"
    assert worst <= FLUSH_INTERVAL + IN_FLIGHT_MARGIN, (
        f"points reported {worst:.3f} s earlier were not on the server {where}; the bound is one "
        f"flush interval ({FLUSH_INTERVAL} s) + {IN_FLIGHT_MARGIN} s")


def test_exit_while_server_down_spools_then_sync_uploads(scripts, tracking_server, tmp_path) -> None:
    code = """
import labtrack
task = labtrack.Task.init("sdk/resilience", "spooled")
print("TASK", task.id, flush=True)
input()  # the test stops the server here
log = task.get_logger()
for i in range(5000):
    log.report_scalar("loss", "train", float(i), i)
task.upload_artifact("cfg", {"k": "v"})
"""
    spool = tmp_path / "spool"
    proc = scripts.start(code, LABTRACK_EXIT_TIMEOUT="2", LABTRACK_SPOOL_DIR=str(spool))
    task_id = task_id_from(read_line(proc, what="the TASK line"))
    wait_for(lambda: scripts.get(f"/tasks/{task_id}")["status"] == "in_progress", what="start")
    tracking_server.stop()
    out, err = _finish(proc)
    assert "could not be sent" in err and "labtrack sync" in err, err
    folders = [p for p in spool.iterdir() if p.is_dir()]
    assert len(folders) == 1 and any((folders[0] / "ops").iterdir())
    tracking_server.start()
    sync = [sys.executable, "-m", "labtrack", "sync", str(folders[0])]
    first = subprocess.run(sync, env=scripts.env(), capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(sync, env=scripts.env(), capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    its, vals = scripts.series(task_id, "loss", "train")
    assert its == list(range(5000)) and vals == [float(i) for i in range(5000)]
    task = scripts.get(f"/tasks/{task_id}")
    assert task["status"] == "completed"
    assert [a["key"] for a in scripts.get(f"/tasks/{task_id}/artifacts")["items"]] == ["cfg"]
    assert json.loads(Path(folders[0], "synced.json").read_text())["task_id"] == task_id


def _finish(proc: subprocess.Popen) -> tuple[str, str]:
    return proc.communicate(input="\n", timeout=60)
