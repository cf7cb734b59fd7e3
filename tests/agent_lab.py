"""A tracking server's agents for tests: real `labtrack agent` processes plus the HTTP helpers to make,
enqueue and read tasks (used by the agent tests and the browser tests that run tasks remotely)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import requests
from polling import wait_for

ENDED = ("completed", "failed", "stopped")


class Lab:
    """One server plus the agents a test starts; HTTP helpers to make, enqueue and read tasks."""

    def __init__(self, server: Any, tmp_path: Path):
        self.server = server
        self.tmp_path = tmp_path
        self.agents: list[subprocess.Popen] = []
        self.logs: dict[int, Path] = {}

    # -- HTTP -----------------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        resp = requests.request(method, f"{self.server.api}{path}", json=body, params=params,
                                headers=self.server.headers, timeout=60)
        assert resp.status_code < 400, f"{method} {path} → {resp.status_code}: {resp.text}"
        return resp.json() if resp.content else None

    def queue(self, name: str) -> dict[str, Any]:
        return self.call("POST", "/queues", {"name": name})

    def task(self, name: str, script: dict[str, Any], hyperparams: dict[str, Any] | None = None,
             project: str = "agent-tests") -> str:
        body: dict[str, Any] = {"name": name, "project_name": project, "script": script}
        task = self.call("POST", "/tasks", body)
        if hyperparams:
            self.call("PATCH", f"/tasks/{task['id']}", {"hyperparams": hyperparams})
        return task["id"]

    def script_task(self, code: str, name: str = "script", requirements: str = "", argv: list[str] | None = None,
                    **kw: Any) -> str:
        """A literal-script task (ClearML's convention: the file's text in `diff`)."""
        return self.task(name, {"repository": "", "diff": textwrap.dedent(code), "entry_point": f"{name}.py",
                                "working_dir": ".", "argv": argv or [], "requirements": requirements}, **kw)

    def enqueue(self, task_id: str, queue: str = "default") -> None:
        # The task route (same effect as POST /queues/{queue}/entries, whose answer raced a waiting
        # agent's pop until 8ad547e; the agent's requeue uses this route too).
        self.call("POST", f"/tasks/{task_id}/enqueue", {"queue": queue})

    def get(self, task_id: str) -> dict[str, Any]:
        return self.call("GET", f"/tasks/{task_id}")

    def wait_status(self, task_id: str, statuses: tuple[str, ...] = ENDED, timeout: float = 120) -> dict[str, Any]:
        def ended() -> dict[str, Any] | None:
            task = self.get(task_id)
            return task if task["status"] in statuses else None

        try:
            return wait_for(ended, timeout=timeout, interval=0.2, what=f"task {task_id} to be {'/'.join(statuses)}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\ntask: {self.get(task_id)}\nconsole:\n{self.console(task_id)}\n"
                                 f"agent logs:\n{self.agent_logs()}") from None

    def console(self, task_id: str) -> str:
        return "".join(item["text"] for item in self.call("GET", f"/tasks/{task_id}/console", limit=10000)["items"])

    def workers(self, status: str = "active") -> list[dict[str, Any]]:
        return self.call("GET", "/workers", status=status)["items"]

    # -- agents ---------------------------------------------------------------------------------

    def agent_env(self) -> dict[str, str]:
        env = dict(self.server.env)
        for key in ("LABTRACK_TASK_ID", "LABTRACK_OFFLINE", "CUDA_VISIBLE_DEVICES"):
            env.pop(key, None)
        env.update(PYTHONUNBUFFERED="1", LABTRACK_FLUSH_INTERVAL="0.2", LABTRACK_HEARTBEAT_INTERVAL="0.5",
                   LABTRACK_EXIT_TIMEOUT="20", LABTRACK_QUIET="1")
        return env

    def start_agent(self, name: str, *args: str, queues: tuple[str, ...] = ("default",),
                    workdir: Path | None = None) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "labtrack", "agent", "--name", name,
               "--workdir", str(workdir or self.tmp_path / "agent-work"),
               "--heartbeat-interval", "0.5", "--poll-wait", "2", "--stop-grace", "2", *args]
        for queue in queues:
            cmd += ["--queue", queue]
        log = self.tmp_path / f"agent-{name}-{len(self.agents)}.log"
        proc = subprocess.Popen(cmd, env=self.agent_env(), stdout=open(log, "wb"), stderr=subprocess.STDOUT)
        self.agents.append(proc)
        self.logs[proc.pid] = log
        wait_for(lambda: proc.poll() is not None or any(w["name"] == name for w in self.workers()), timeout=60,
                 what=f"agent {name} to register")
        assert proc.poll() is None, f"agent {name} exited ({proc.returncode}):\n{log.read_text()}"
        return proc

    def agent_logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}" for path in self.logs.values())

    def stop_agents(self) -> None:
        for proc in self.agents:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.agents:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
