"""The agent's loop: register a worker, long-poll its queues, run one task at a time, heartbeat.

Main thread: register → pop (long-poll) → run the task (`TaskExecution`) → pop … → unregister.
Heartbeat thread: every `heartbeat_interval` s, the worker's usage and current task; the answer's
`stop_requested` stops the child. SIGTERM/SIGINT stop the running child (its task ends `stopped`,
"agent shut down"), then the agent unregisters and exits. Killed with -9 it can do nothing: its
children die with it (runner.py), and the server's worker-lost watchdog fails the task; an agent
restarted under the same name on the same machine replaces the dead worker at once.

Invariant: a worker name is held by one live agent per machine (a lock file), so replacing an
active worker of that name on this host only ever replaces a dead predecessor.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType
from typing import IO, Any

from labtrack.agent.api import AgentApi
from labtrack.agent.code import CodeCache
from labtrack.agent.environments import EnvironmentCache
from labtrack.agent.execution import TaskExecution
from labtrack.agent.resources import UsageSampler, machine_resources
from labtrack.agent.settings import AgentSettings
from labtrack.sdk.client import ApiClient
from labtrack.sdk.errors import ApiError, Conflict, NotFound, ServerUnreachable, retry_later


class AgentError(Exception):
    """The agent can't start or go on (a message for the person who started it)."""


def log(text: str) -> None:
    print(f"labtrack agent: {text}", file=sys.stderr, flush=True)


def name_lock(name: str) -> IO[str]:
    """Hold this machine's lock for a worker name, or raise AgentError when another agent holds it."""
    folder = Path(tempfile.gettempdir()) / f"labtrack-agents-{os.getuid()}"
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".lock"), "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise AgentError(f"another agent named {name!r} runs on this machine; give this one another --name") from None
    return handle


class Agent:
    """One worker: its registration, heartbeat thread and task loop."""

    def __init__(self, client: ApiClient, settings: AgentSettings):
        self.client = client
        self.api = AgentApi(client)
        self.settings = settings
        self.hostname = socket.gethostname()
        self.worker_id: str | None = None
        self._worker_lock = threading.Lock()
        self._register_lock = threading.Lock()
        self._shutdown = threading.Event()
        self._heartbeat_stop = threading.Event()
        self._current: TaskExecution | None = None
        self._sampler = UsageSampler(settings.gpus)
        self.code_cache = CodeCache(settings.workdir / "repos")
        self.envs = EnvironmentCache(settings.workdir / "envs")
        self.tasks_run = 0

    # -- registration ------------------------------------------------------------------------------

    def register(self, replace: bool = False) -> str:
        """Register this worker (replacing a dead predecessor of the same name on this machine)."""
        resources = machine_resources(self.settings.gpus)
        try:
            worker = self.api.register(self.settings.name, self.settings.queues, resources, replace=replace)
        except NotFound as exc:
            raise AgentError(f"{exc.message} Create the queue first (POST /api/v1/queues, or the lab's Queues "
                             "panel), or start the agent with --create-queue.") from None
        except Conflict:
            if replace:
                raise
            existing = self.api.active_worker(self.settings.name)
            host = ((existing or {}).get("resources") or {}).get("hostname")
            if existing is not None and host and host != self.hostname:
                raise AgentError(f"a worker named {self.settings.name!r} is active on {host}; "
                                 "give this agent another --name") from None
            # Ours by the name lock: an agent of this name on this machine that died without unregistering.
            log(f"replacing worker {self.settings.name!r} left by an agent that ended without unregistering")
            worker = self.api.register(self.settings.name, self.settings.queues, resources, replace=True)
        with self._worker_lock:
            self.worker_id = worker["id"]
        gpus = ", ".join(g["name"] for g in resources["gpus"]) or "no GPU"
        log(f"worker {self.settings.name!r} ({worker['id']}) on {self.client.url} serves "
            f"{', '.join(self.settings.queues)}; {resources['cpu_count']} CPUs, {gpus}")
        return worker["id"]

    def _reregister(self, stale_id: str) -> None:
        """Register again after the server counted worker `stale_id` gone (once, whichever thread sees it)."""
        with self._register_lock:
            with self._worker_lock:
                if self.worker_id != stale_id:
                    return  # the other thread did it already
            log("the server counts this worker gone (no heartbeat for too long); registering again")
            self.register(replace=True)

    # -- heartbeats --------------------------------------------------------------------------------

    def _heartbeat_loop(self) -> None:
        failures = 0
        # The first beat goes out at once: the worker's usage shows before its first task can end.
        while True:
            try:
                self.heartbeat_once()
                failures = 0
            except (ServerUnreachable, ApiError) as exc:
                failures += 1
                if failures in (1, 10) or failures % 100 == 0:
                    log(f"heartbeat failed ({failures}x): {exc}")
            except Exception as exc:  # never let the heartbeat thread die silently
                log(f"heartbeat error: {type(exc).__name__}: {exc}")
            if self._heartbeat_stop.wait(self.settings.heartbeat_interval):
                return

    def heartbeat_once(self) -> None:
        current = self._current
        task_id = current.task_id if current is not None else None
        with self._worker_lock:
            worker_id = self.worker_id
        if worker_id is None:
            return
        try:
            answer = self.api.heartbeat(worker_id, task_id, self._sampler.sample())
        except Conflict:
            # The server counted us gone (a long outage): its watchdog already failed our task.
            self._reregister(worker_id)
            return
        if current is not None:
            if answer.get("stop_requested"):
                current.request_stop("aborted")
            try:
                self.api.touch_task(current.task_id)
            except (ServerUnreachable, ApiError):
                pass

    # -- the loop ----------------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._shutdown.is_set():
            return
        self._shutdown.set()
        log(f"{signal.Signals(signum).name}: stopping" + (" the running task, then exiting" if self._current else ""))
        current = self._current
        if current is not None:
            current.request_stop("agent shut down")

    def run(self) -> int:
        """Serve the queues until a signal (or one task with `once`); the exit code."""
        lock = name_lock(self.settings.name)
        try:
            if self.settings.create_queues:
                for queue in self.settings.queues:
                    self.api.ensure_queue(queue)
            self.register()
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)
            beat = threading.Thread(target=self._heartbeat_loop, name="labtrack-agent-heartbeat", daemon=True)
            beat.start()
            try:
                self._serve()
            finally:
                self._heartbeat_stop.set()
                beat.join(self.settings.heartbeat_interval + 35)
                with self._worker_lock:
                    worker_id = self.worker_id
                if worker_id:
                    try:
                        self.api.unregister(worker_id)
                    except (ServerUnreachable, ApiError) as exc:
                        log(f"could not unregister ({exc}); the server will count the worker gone")
        finally:
            lock.close()
        log(f"exiting after {self.tasks_run} task(s)")
        return 0

    def _serve(self) -> None:
        backoff = 1.0
        while not self._shutdown.is_set():
            with self._worker_lock:
                worker_id = self.worker_id
            assert worker_id is not None
            try:
                popped = self.api.pop(self.settings.queues, worker_id, self.settings.poll_wait)
                backoff = 1.0
            except Conflict:
                self._reregister(worker_id)
                continue
            except NotFound as exc:
                raise AgentError(f"{exc.message} (a queue this agent serves was deleted)") from None
            except (ServerUnreachable, ApiError) as exc:
                if isinstance(exc, ApiError) and not retry_later(exc):
                    raise AgentError(f"the server refused to give this agent work: {exc}") from None
                log(f"could not reach the queues ({exc}); retrying in {backoff:.0f} s")
                self._shutdown.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            if popped is None:
                continue
            task, queue = popped
            if self._shutdown.is_set():
                self.api.requeue(task["id"], queue.get("id") or self.settings.queues[0])
                log(f"gave task {task['id']} back to its queue (shutting down)")
                return
            self._run(task, queue)
            if self.settings.once:
                return

    def _run(self, task: dict[str, Any], queue: dict[str, Any]) -> None:
        execution = TaskExecution(self, task, queue)
        self._current = execution
        try:
            execution.run()
        finally:
            self._current = None
            self.tasks_run += 1
