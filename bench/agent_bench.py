"""Agent benchmark: enqueue-to-running latency (warm and cold environment) and tiny tasks per minute.

Against a real `labtrack server` (SQLite) with real `labtrack agent` processes at their default
settings (heartbeat 3 s, long-poll 5 s), on this machine:

- latency: an idle agent waits on the queue; a task is enqueued; "running" is the moment the
  task's own process executes its first line (it records `time.time()`), so it includes the pop,
  code materialisation, the environment and the Python start. Warm: the task's requirements were
  seen before (cached venv). Cold: requirements never seen (a new venv is made and planned; all
  packages already installed, so nothing is downloaded). Median of `LABTRACK_BENCH_AGENT_TRIALS`
  (default 5) each.
- throughput: N tiny tasks (a script that prints one line, no SDK) enqueued at once; tasks per
  minute from the first enqueue to the last task ended, with one agent and with two.

Results: bench/results/agent.md. `LABTRACK_BENCH_AGENT_TASKS` sets N (default 100).
"""

from __future__ import annotations

import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

from bench.server_bench import Server

RESULTS = Path(__file__).resolve().parent / "results" / "agent.md"
STAMP = "import time, sys\nopen(sys.argv[1], 'w').write(repr(time.time()))\n"
TINY = "print('tiny')\n"


class Bench:
    def __init__(self, root: Path):
        self.root = root
        self.server = Server(root)
        self.api = self.server.api
        self.session = self.server.session
        self.agents: list[subprocess.Popen] = []

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        resp = self.session.request(method, f"{self.api}{path}", json=body, params=params, timeout=60)
        resp.raise_for_status()
        return resp.json() if resp.content else None

    def start_agent(self, name: str, queue: str) -> None:
        env = dict(os.environ, LABTRACK_HOME=str(self.root / "home"), LABTRACK_API_URL=self.api[: -len("/api/v1")],
                   LABTRACK_API_KEY=self.server.key)
        log = open(self.root / f"agent-{name}.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "labtrack", "agent", "--queue", queue, "--name", name,
                                 "--workdir", str(self.root / f"work-{name}")], env=env, stdout=log, stderr=subprocess.STDOUT)
        self.agents.append(proc)
        deadline = time.monotonic() + 60
        while not any(w["name"] == name for w in self.call("GET", "/workers")["items"]):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"agent {name} did not register")
            time.sleep(0.1)

    def stop_agents(self) -> None:
        for proc in self.agents:
            proc.send_signal(signal.SIGTERM)
        for proc in self.agents:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.agents = []

    def task(self, code: str, name: str, requirements: str = "", argv: list[str] | None = None) -> str:
        script = {"repository": "", "diff": code, "entry_point": f"{name}.py", "working_dir": ".",
                  "argv": argv or [], "requirements": requirements}
        return self.call("POST", "/tasks", {"name": name, "project_name": "agent-bench", "script": script})["id"]

    def enqueue(self, task_id: str, queue: str) -> None:
        self.call("POST", f"/tasks/{task_id}/enqueue", {"queue": queue})

    def wait_ended(self, ids: list[str], timeout: float = 900) -> None:
        deadline = time.monotonic() + timeout
        pending = set(ids)
        while pending:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(pending)} task(s) did not end in {timeout} s")
            items = self.call("GET", "/tasks", project="agent-bench", status="completed,failed,stopped", limit=1000)
            pending -= {t["id"] for t in items["items"]}
            time.sleep(0.2)

    def latency(self, queue: str, requirements: str, trial: int) -> float:
        stamp = self.root / f"stamp-{queue}-{trial}.txt"
        task_id = self.task(STAMP, f"lat-{queue}-{trial}", requirements, [str(stamp)])
        time.sleep(1.0)  # the agent is idle in its long-poll, as a waiting agent is
        enqueued = time.time()
        self.enqueue(task_id, queue)
        self.wait_ended([task_id], timeout=300)
        return float(stamp.read_text()) - enqueued

    def throughput(self, queue: str, count: int) -> float:
        ids = [self.task(TINY, f"tiny-{queue}-{i}") for i in range(count)]
        started = time.monotonic()
        for task_id in ids:
            self.enqueue(task_id, queue)
        self.wait_ended(ids)
        return count / (time.monotonic() - started) * 60


def main() -> int:
    trials = int(os.environ.get("LABTRACK_BENCH_AGENT_TRIALS", "5"))
    count = int(os.environ.get("LABTRACK_BENCH_AGENT_TASKS", "100"))
    with tempfile.TemporaryDirectory(prefix="labtrack-agent-bench-") as tmp:
        bench = Bench(Path(tmp))
        try:
            for queue in ("lat", "one", "two"):
                bench.call("POST", "/queues", {"name": queue})
            bench.start_agent("lat", "lat")
            warm_req = "requests\n"
            bench.latency("lat", warm_req, -1)  # builds the environment once
            warm = [bench.latency("lat", warm_req, i) for i in range(trials)]
            # A requirement set never seen before (satisfied by the agent's packages): a new venv each time.
            cold = [bench.latency("lat", f"requests>=0.{i}\n", 100 + i) for i in range(trials)]
            bench.stop_agents()
            bench.start_agent("one", "one")
            one = bench.throughput("one", count)
            bench.stop_agents()
            bench.start_agent("two-a", "two")
            bench.start_agent("two-b", "two")
            two = bench.throughput("two", count)
        finally:
            bench.stop_agents()
            bench.server.stop()
    result = {"warm": warm, "cold": cold, "one": one, "two": two}
    report = write_report(result, trials, count)
    print(report)
    return 0


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms (range {min(values) * 1000:.0f}-{max(values) * 1000:.0f})"


def write_report(r: dict[str, Any], trials: int, count: int) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = f"""# Agent benchmark

Generated by `python -m bench agent` (bench/agent_bench.py) on {when}, {os.cpu_count()} CPUs, Python
{platform.python_version()}, SQLite server and agents on the same machine, agents at their default
settings (heartbeat 3 s, long-poll 5 s). No GPU.

| measure | result |
|---|---|
| enqueue → task's first line runs, warm environment (median of {trials}) | {_ms(r['warm'])} |
| enqueue → task's first line runs, cold environment: new venv, nothing to download (median of {trials}) | {_ms(r['cold'])} |
| tiny tasks per minute, one agent ({count} tasks) | {r['one']:.0f} |
| tiny tasks per minute, two agents on one queue ({count} tasks) | {r['two']:.0f} |

Reading it: the latency includes the long-poll wake-up, the pop, writing the code, the environment
(a cache lookup when warm; `python -m venv` plus the install plan when cold) and the start of the
task's Python with the agent's site-packages on its path. A tiny task is one process start plus
about six HTTP calls (pop, console, status read, complete); two agents share the machine's CPUs
with the server.
"""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    return text


if __name__ == "__main__":
    sys.exit(main())
