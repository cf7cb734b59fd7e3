"""Status tells the truth: normal exit, uncaught error, Ctrl-C, SIGTERM, abort from outside."""

from __future__ import annotations

import signal
import time

import pytest

from polling import read_line
from tests.sdk.conftest import task_id_from, wait_for

START = """
import sys, time, labtrack
task = labtrack.Task.init("sdk/status", "{name}")
print("TASK", task.id, flush=True)
"""


def test_normal_exit_completes_and_monitor_reports(scripts) -> None:
    proc = scripts.run(START.format(name="ok") + "time.sleep(1.5)\n")
    task_id = task_id_from(proc.stdout)
    task = scripts.get(f"/tasks/{task_id}")
    assert task["status"] == "completed"
    metrics = {(m["metric"], m["variant"]) for m in scripts.get(f"/tasks/{task_id}/metrics")["items"]}
    assert (":monitor:", "cpu_percent") in metrics and (":monitor:", "memory_used_gb") in metrics


def test_uncaught_exception_fails_with_traceback(scripts) -> None:
    proc = scripts.run(START.format(name="boom") + "def f():\n    raise ValueError('bad thing 42')\nf()\n",
                       check=False)
    assert proc.returncode == 1 and "ValueError: bad thing 42" in proc.stderr
    task = scripts.get(f"/tasks/{task_id_from(proc.stdout)}")
    assert task["status"] == "failed"
    assert "ValueError: bad thing 42" in task["status_reason"] and "in f" in task["status_reason"]
    console = "".join(i["text"] for i in scripts.get(f"/tasks/{task['id']}/console")["items"])
    assert "ValueError: bad thing 42" in console


def test_keyboard_interrupt_stops(scripts) -> None:
    proc = scripts.run(START.format(name="ctrl-c") + "raise KeyboardInterrupt\n", check=False)
    assert proc.returncode != 0
    assert scripts.get(f"/tasks/{task_id_from(proc.stdout)}")["status"] == "stopped"


def test_sigterm_stops(scripts) -> None:
    proc = scripts.start(START.format(name="term") + "print('READY', flush=True)\ntime.sleep(60)\n")
    task_id = task_id_from(read_line(proc, what="the TASK line"))
    assert read_line(proc, what="READY").strip() == "READY"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 128 + signal.SIGTERM
    assert scripts.get(f"/tasks/{task_id}")["status"] == "stopped"


def test_sigterm_right_after_an_abort_says_aborted(scripts) -> None:
    """An agent stops its child with SIGTERM as soon as its own heartbeat sees an abort, often before
    the child's heartbeat does: the task must still say `aborted` (a plain SIGTERM says `SIGTERM`)."""
    messages = {}
    for aborted in (True, False):
        proc = scripts.start(START.format(name=f"term-{aborted}") + "print('READY', flush=True)\ntime.sleep(60)\n",
                             LABTRACK_HEARTBEAT_INTERVAL="3600")  # the SDK's heartbeat never sees the abort
        task_id = task_id_from(read_line(proc, what="the TASK line"))
        assert read_line(proc, what="READY").strip() == "READY"
        if aborted:
            scripts.post(f"/tasks/{task_id}/stop")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 128 + signal.SIGTERM
        task = scripts.get(f"/tasks/{task_id}")
        messages[aborted] = (task["status"], task["status_message"])
    assert messages == {True: ("stopped", "aborted"), False: ("stopped", "SIGTERM")}


def test_abort_from_outside_interrupts_main_thread(scripts) -> None:
    code = START.format(name="abort") + """
log = task.get_logger()
try:
    for i in range(100000):
        log.report_scalar("x", "y", i, i)
        time.sleep(0.01)
except KeyboardInterrupt:
    print("INTERRUPTED at", i, flush=True)
    raise
"""
    proc = scripts.start(code)
    task_id = task_id_from(read_line(proc, what="the TASK line"))
    wait_for(lambda: scripts.get(f"/tasks/{task_id}")["last_iteration"], what="first points")
    scripts.post(f"/tasks/{task_id}/stop")
    out, err = proc.communicate(timeout=60)
    assert "INTERRUPTED at" in out, err
    task = scripts.get(f"/tasks/{task_id}")
    assert task["status"] == "stopped"
    its, _ = scripts.series(task_id, "x", "y")
    assert its == list(range(len(its)))  # everything reported before the abort arrived, once


@pytest.mark.parametrize("force", [False, True], ids=["stop-request", "forced-stop"])
def test_abort_is_seen_within_a_heartbeat_while_data_flows(scripts, force) -> None:
    """A forced stop (the server marks the task stopped at once) shows only in heartbeat answers:
    they must keep coming while events flow, and the script must still end within one."""
    code = START.format(name="abort-timed") + """
log = task.get_logger()
try:
    for i in range(3000):
        log.report_scalar("x", "y", i, i)
        time.sleep(0.01)
except KeyboardInterrupt:
    print("INTERRUPTED at", i, flush=True)
    raise
print("NOT INTERRUPTED", flush=True)
"""
    proc = scripts.start(code)  # heartbeat every 0.5 s (conftest), flush every 0.2 s
    task_id = task_id_from(read_line(proc, what="the TASK line"))
    wait_for(lambda: (scripts.get(f"/tasks/{task_id}")["last_iteration"] or 0) > 50, what="first points")
    scripts.post(f"/tasks/{task_id}/stop", {"force": force})
    asked = time.monotonic()
    out, err = proc.communicate(timeout=60)
    took = time.monotonic() - asked
    assert "INTERRUPTED at" in out, out + err
    assert took < 5.0, f"the script ended {took:.1f}s after the stop (heartbeat 0.5 s)"
    task = scripts.get(f"/tasks/{task_id}")
    assert task["status"] == "stopped", task
    its, _ = scripts.series(task_id, "x", "y")
    assert its == list(range(len(its))) and len(its) > 50


def test_with_block_marks_failure_and_mark_completed_keeps_process(scripts) -> None:
    code = """
import labtrack
try:
    with labtrack.Task.init("sdk/status", "with") as task:
        print("TASK", task.id)
        raise RuntimeError("inside with")
except RuntimeError:
    pass
t2 = labtrack.Task.init("sdk/status", "second")
print("SECOND", t2.id)
assert t2.id != task.id
t2.mark_completed()
print("STILL RUNNING", labtrack.Task.current_task())
"""
    proc = scripts.run(code)
    assert "STILL RUNNING None" in proc.stdout
    task = scripts.get(f"/tasks/{task_id_from(proc.stdout)}")
    assert task["status"] == "failed" and "RuntimeError: inside with" in task["status_reason"]
    second = [ln.split()[1] for ln in proc.stdout.splitlines() if ln.startswith("SECOND")][0]
    assert scripts.get(f"/tasks/{second}")["status"] == "completed"
