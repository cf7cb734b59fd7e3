"""Ending a task from outside: an abort stops the child; an agent killed with -9 leaves no task running."""

from __future__ import annotations

import signal
import time

import pytest
from agent_processes import pid_alive
from polling import wait_for

# Ignores SIGTERM, so only the agent's SIGKILL after the grace period can end it.
STUBBORN = '''
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(sys.argv[1], "w").write(str(os.getpid()))
for i in range(100000):
    print("step", i, flush=True)
    time.sleep(0.2)
'''


def test_abort_in_the_middle_stops_the_child_after_the_grace_period_and_the_task_is_stopped(lab, tmp_path):
    pid_file = tmp_path / "child.pid"
    task_id = lab.script_task(STUBBORN, argv=[str(pid_file)])
    lab.enqueue(task_id)
    lab.start_agent("aborter")
    wait_for(lambda: "step 3\n" in lab.console(task_id), timeout=90, what="the task to print step 3")
    assert lab.get(task_id)["status"] == "in_progress"
    asked = time.monotonic()
    lab.call("POST", f"/tasks/{task_id}/stop")  # a stop request: the running process is to stop itself
    task = lab.wait_status(task_id, timeout=60)
    took = time.monotonic() - asked
    assert task["status"] == "stopped", task
    assert task["status_message"] == "aborted"
    # heartbeat (0.5 s) + grace (2 s) + console flush: well under 15 s, and not before the grace ran out.
    assert 2.0 <= took < 15, took
    console = lab.console(task_id)
    assert "after SIGKILL (it outlived the grace period)" in console, console
    assert not pid_alive(int(pid_file.read_text()))
    # The agent serves on: the next task runs.
    after = lab.script_task("print('next one')\n", name="after")
    lab.enqueue(after)
    assert lab.wait_status(after)["status"] == "completed"


LONG = '''
import os, sys, time
import labtrack
task = labtrack.Task.init("agent-tests", "long")
open(sys.argv[1], "w").write(str(os.getpid()))
for i in range(100000):
    print("tick", i, flush=True)
    time.sleep(0.2)
'''


@pytest.mark.server_args("--worker-timeout", "3")
def test_agent_killed_with_9_leaves_its_task_to_the_worker_lost_watchdog(lab, tmp_path):
    pid_file = tmp_path / "child.pid"
    task_id = lab.script_task(LONG, argv=[str(pid_file)])
    lab.enqueue(task_id)
    agent = lab.start_agent("doomed")
    wait_for(lambda: "tick 2\n" in lab.console(task_id), timeout=90, what="the task to tick")
    child = int(pid_file.read_text())
    agent.send_signal(signal.SIGKILL)
    agent.wait(10)
    # The child dies with its agent (PR_SET_PDEATHSIG): nothing keeps reporting into the task.
    wait_for(lambda: not pid_alive(child), timeout=10, what="the task's process to die with the agent")
    task = lab.wait_status(task_id, timeout=30)
    assert task["status"] == "failed" and task["status_reason"] == "worker lost", task
    assert [w["name"] for w in lab.workers("gone")] == ["doomed"]
    # A new agent of the same name registers fine and serves the queue.
    lab.start_agent("doomed")
    again = lab.script_task("print('again')\n", name="again")
    lab.enqueue(again)
    assert lab.wait_status(again)["status"] == "completed"


def test_agent_restarted_under_the_same_name_replaces_its_dead_worker_at_once(lab, tmp_path):
    pid_file = tmp_path / "child.pid"
    task_id = lab.script_task(LONG, argv=[str(pid_file)])
    lab.enqueue(task_id)
    agent = lab.start_agent("phoenix")
    wait_for(lambda: "tick 2\n" in lab.console(task_id), timeout=90, what="the task to tick")
    agent.send_signal(signal.SIGKILL)
    agent.wait(10)
    started = time.monotonic()
    lab.start_agent("phoenix")  # the default worker timeout is 60 s: only the replace can end the old task
    task = lab.wait_status(task_id, timeout=30)
    assert time.monotonic() - started < 30
    assert task["status"] == "failed" and task["status_reason"] == "worker lost", task
    assert [w["name"] for w in lab.workers()] == ["phoenix"]


def test_agent_sigterm_stops_its_task_and_unregisters(lab, tmp_path):
    pid_file = tmp_path / "child.pid"
    task_id = lab.script_task(LONG, argv=[str(pid_file)])
    lab.enqueue(task_id)
    agent = lab.start_agent("polite")
    wait_for(lambda: "tick 2\n" in lab.console(task_id), timeout=90, what="the task to tick")
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(30) == 0
    task = lab.get(task_id)
    assert task["status"] == "stopped", task
    assert lab.workers() == [] and [w["name"] for w in lab.workers("gone")] == ["polite"]
