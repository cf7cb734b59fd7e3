"""One task on an agent: code → environment → child process → console, artifacts and status.

Order, so that a task's final status means everything else has arrived: the child runs and ends;
the executed notebook is uploaded; the console is flushed; only then, if the child's own SDK did
not end the task (a script without `Task.init`, a crash, SIGKILL), the agent ends it: `stopped`
after an abort or shutdown, else `completed` for exit code 0 and `failed` ("exit code N")
otherwise. A task the child ended keeps the status the child gave it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import traceback
from pathlib import Path
from typing import Any, Protocol

from labtrack.agent.api import AgentApi
from labtrack.agent.code import Code, CodeCache, CodeError, materialise
from labtrack.agent.console import ConsoleStream
from labtrack.agent.environments import Environment, EnvironmentCache, EnvironmentError_
from labtrack.agent.notebooks import inject_parameters, notebook_parameters
from labtrack.agent.runner import ChildProcess, ChildResult
from labtrack.agent.settings import AgentSettings
from labtrack.sdk.client import ApiClient
from labtrack.sdk.errors import ApiError, ServerUnreachable

EXECUTED_NOTEBOOK = "executed_notebook"  # the artifact key JupyterLab's "Open result" looks for
# Settings of the agent's own process that must not leak into a task's process.
NOT_INHERITED = ("LABTRACK_TASK_ID", "LABTRACK_OFFLINE", "VIRTUAL_ENV", "PYTHONHOME", "__PYVENV_LAUNCHER__")


def exit_reason(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class AgentContext(Protocol):
    """What a task run needs of its agent (the daemon's `Agent`)."""

    client: ApiClient
    api: AgentApi
    settings: AgentSettings
    hostname: str
    code_cache: CodeCache
    envs: EnvironmentCache


class TaskExecution:
    """Runs one popped task to its end; `request_stop` may be called from any thread."""

    def __init__(self, agent: AgentContext, task: dict[str, Any], queue: dict[str, Any]):
        self.agent = agent
        self.task = task
        self.task_id: str = task["id"]
        self.queue = queue
        self.stop_event = threading.Event()
        self.stop_reason = ""
        self._child: ChildProcess | None = None
        self._lock = threading.Lock()
        self.run_dir = agent.settings.workdir / "runs" / self.task_id
        self.console = ConsoleStream(agent.client, self.task_id, interval=agent.settings.console_interval,
                                     echo=agent.settings.echo)

    def request_stop(self, reason: str) -> None:
        with self._lock:
            if self.stop_event.is_set():
                return
            self.stop_reason = reason
            self.stop_event.set()
            child = self._child
        if child is not None:
            child.request_stop()

    # -- the steps ---------------------------------------------------------------------------------

    def run(self) -> None:
        settings = self.agent.settings
        self.console.start()
        self.console.note(f"task {self.task_id} ({self.task.get('name', '')}) from queue "
                          f"{self.queue.get('name', '?')} on worker {settings.name} ({self.agent.hostname})")
        result: ChildResult | None = None
        error = ""
        code: Code | None = None
        try:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            self.run_dir.mkdir(parents=True)
            code = materialise(self.task, self.run_dir, self.agent.code_cache)
            for line in code.notes:
                self.console.note(line)
            requirements = (self.task.get("script") or {}).get("requirements")
            env = self.agent.envs.prepare(requirements, self.console.note,
                                          lambda text: self.console.write("stdout", text), self.stop_event)
            self.console.note(f"environment {env.key}: " + (f"cache hit ({env.seconds:.2f} s)" if env.cache_hit
                                                              else f"built in {env.seconds:.1f} s"))
            if not self.stop_event.is_set():
                result = self._run_child(code, env)
        except (CodeError, EnvironmentError_) as exc:
            error = str(exc)
        except Exception as exc:  # an agent bug must fail this task, not the agent
            error = f"agent error: {type(exc).__name__}: {exc}"
            self.console.write("stderr", traceback.format_exc())
        if code is not None and code.kind == "notebook":
            self._upload_notebook(code)
        self._finish(result, error)
        if not settings.keep_runs:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def _child_env(self, env: Environment) -> dict[str, str]:
        settings = self.agent.settings
        child = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        child.update(
            LABTRACK_TASK_ID=self.task_id, LABTRACK_API_URL=self.agent.client.url,
            LABTRACK_API_KEY=self.agent.client.api_key,
            LABTRACK_CAPTURE_CONSOLE="0",  # the agent streams the console; the SDK must not copy it too
            PYTHONUNBUFFERED="1", VIRTUAL_ENV=str(env.path),
            PATH=os.pathsep.join([str(env.path / "bin"), os.environ.get("PATH", "")]),
        )
        if settings.gpus is not None:
            child["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in settings.gpus)
            child["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"  # NVML's order: --gpus indices mean the same GPUs to CUDA
        return child

    def _run_child(self, code: Code, env: Environment) -> ChildResult:
        if code.kind == "notebook":
            assert code.notebook is not None
            params = notebook_parameters(self.task.get("hyperparams"))
            notebook = inject_parameters(code.notebook, params)
            code.entry.write_text(json.dumps(notebook))
            if params:
                self.console.note("parameters: " + ", ".join(f"{k}={v!r}" for k, v in params.items()))
            argv = [str(env.python), "-m", "labtrack.agent.notebook_exec", str(code.entry), str(self._executed_path()),
                    EXECUTED_NOTEBOOK]
        else:
            argv = [str(env.python), "-u", str(code.entry), *code.argv]
        child = ChildProcess(argv, str(code.cwd), self._child_env(env), self.console.write, self.agent.settings.stop_grace)
        with self._lock:
            if self.stop_event.is_set():
                return ChildResult(0, True, False, 0.0)
            self._child = child
            child.start()
        return child.wait()

    def _executed_path(self) -> Path:
        return self.run_dir / "executed.ipynb"

    def _upload_notebook(self, code: Code) -> None:
        path = self._executed_path()
        if not path.exists() or path.with_suffix(".uploaded").exists():
            if path.exists():
                self.console.note(f"executed notebook uploaded as artifact {EXECUTED_NOTEBOOK!r}")
            return  # nothing ran, or the notebook child uploaded it already
        try:
            self.agent.api.upload_artifact(self.task_id, EXECUTED_NOTEBOOK, path, "notebook", code.entry.name)
            self.console.note(f"executed notebook uploaded as artifact {EXECUTED_NOTEBOOK!r}")
        except (ServerUnreachable, ApiError) as exc:
            self.console.note(f"could not upload the executed notebook: {exc}")

    def _finish(self, result: ChildResult | None, error: str) -> None:
        """End the task unless its process did; the console goes first."""
        api = self.agent.api
        try:
            status = api.task(self.task_id).get("status")
        except (ServerUnreachable, ApiError) as exc:
            status = None
            self.console.note(f"could not read the task's status: {exc}")
        action, reason, message = "", "", ""
        if status == "in_progress":
            if self.stop_event.is_set():
                action, message = "stop", self.stop_reason or "aborted"
            elif error:
                action, reason, message = "fail", error, error[:300]
            elif result is not None and result.exit_code == 0:
                action = "complete"
            else:
                code = result.exit_code if result is not None else -1
                action, reason, message = "fail", exit_reason(code), exit_reason(code)
        if result is not None:
            how = exit_reason(result.exit_code) + (" after SIGKILL (it outlived the grace period)" if result.killed else "")
            self.console.note(f"process ended: {how}, {result.seconds:.1f} s")
        if error:
            self.console.note(error)
        if action:
            self.console.note({"stop": "task stopped", "fail": "task failed", "complete": "task completed"}[action]
                              + (f": {message}" if message else ""))
        elif status:
            self.console.note(f"the task's process ended it: {status}")
        self.console.close()
        if action:
            try:
                api.end_task(self.task_id, action, reason=reason, message=message, force=action == "stop")
            except (ServerUnreachable, ApiError) as exc:
                # The server's lost-contact watchdog ends it if nobody can.
                print(f"labtrack agent: could not end task {self.task_id} ({action}): {exc}", flush=True)
