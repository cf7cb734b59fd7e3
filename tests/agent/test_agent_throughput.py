"""Two agents on one queue: 100 tiny tasks, each executed exactly once."""

from __future__ import annotations

import time
from collections import Counter

from polling import wait_for

# No SDK: each run appends its task id to one shared file (O_APPEND: whole lines), then exits 0.
TINY = '''
import os, sys
with open(sys.argv[1], "a") as fh:
    fh.write(os.environ["LABTRACK_TASK_ID"] + "\\n")
'''


def test_two_agents_run_100_tiny_tasks_each_exactly_once(lab, tmp_path):
    ledger = tmp_path / "ledger.txt"
    ledger.touch()
    lab.queue("tiny")
    ids = [lab.script_task(TINY, name=f"tiny{i}", argv=[str(ledger)]) for i in range(100)]
    for task_id in ids:
        lab.enqueue(task_id, "tiny")
    started = time.monotonic()
    # Separate workdirs: two machines as far as the agents know.
    lab.start_agent("a1", queues=("tiny",), workdir=tmp_path / "w1")
    lab.start_agent("a2", queues=("tiny",), workdir=tmp_path / "w2")

    def all_ended() -> bool:
        tasks = lab.call("GET", "/tasks", project="agent-tests", limit=1000)["items"]
        return sum(t["status"] in ("completed", "failed", "stopped") for t in tasks) == 100

    wait_for(all_ended, timeout=400, interval=1, what="100 tiny tasks to end")
    took = time.monotonic() - started
    runs = Counter(ledger.read_text().split())
    assert set(runs) == set(ids) and set(runs.values()) == {1}, runs.most_common(3)
    tasks = lab.call("GET", "/tasks", project="agent-tests", limit=1000)["items"]
    assert Counter(t["status"] for t in tasks) == {"completed": 100}
    workers = {w["id"]: w["name"] for w in lab.workers()}
    per_agent = Counter(workers[t["worker"]] for t in tasks)
    assert set(per_agent) == {"a1", "a2"}, per_agent  # both agents took work from the one queue
    print(f"100 tiny tasks with 2 agents: {took:.1f} s ({100 / took * 60:.0f}/min); per agent {dict(per_agent)}")
