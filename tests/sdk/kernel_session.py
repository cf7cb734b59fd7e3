"""A real IPython kernel driven like JupyterLab drives it: cells, silent code, interrupt, restart.

nbclient runs a notebook top to bottom; these tests need what a person does in between (press
Track, interrupt a long cell, restart the kernel), so they talk to the kernel with jupyter_client.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from jupyter_client.manager import KernelManager

COMM_TARGET = "labtrack.notebook_run"


@dataclass
class CellResult:
    status: str  # "ok" or "error"
    stdout: str = ""
    stderr: str = ""
    ename: str = ""
    announced: list[dict[str, Any]] = field(default_factory=list)  # labtrack.notebook_run comm data

    @property
    def task_id(self) -> str:
        """The id the cell printed as `TASK <id>`."""
        for line in self.stdout.splitlines():
            if line.startswith("TASK "):
                return line.split()[1]
        raise AssertionError(f"the cell printed no TASK line: {self.stdout!r} {self.stderr!r}")


class Kernel:
    """One python3 kernel with the given environment; `stop()` shuts it down (atexit hooks run)."""

    def __init__(self, env: Mapping[str, str], cwd: Path):
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(env=dict(env), cwd=str(cwd))
        self._connect()

    def _connect(self) -> None:
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float = 120, silent: bool = False) -> CellResult:
        """Execute `code` as a cell (or silently, as the lab extension runs its own code) and wait."""
        result = CellResult(status="")

        def on_output(msg: dict[str, Any]) -> None:
            kind, content = msg["header"]["msg_type"], msg["content"]
            if kind == "stream":
                setattr(result, content["name"], getattr(result, content["name"]) + content["text"])
            elif kind == "error":
                result.ename = content["ename"]
            elif kind == "comm_open" and content.get("target_name") == COMM_TARGET:
                result.announced.append(content["data"])

        reply = self.client.execute_interactive(code, silent=silent, store_history=not silent, timeout=timeout,
                                                output_hook=on_output, allow_stdin=False)
        result.status = reply["content"]["status"]
        if result.status == "error" and not result.ename:
            result.ename = reply["content"].get("ename", "")
        return result

    def start(self, code: str) -> str:
        """Send a cell without waiting for it (then `interrupt()` and `wait_reply()`)."""
        return self.client.execute(code)

    def wait_reply(self, msg_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self.client.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply
        raise AssertionError(f"no execute_reply for {msg_id} within {timeout}s")

    def interrupt(self) -> None:
        self.manager.interrupt_kernel()

    def restart(self) -> None:
        """Restart as JupyterLab does: a shutdown request (restart=True), then a fresh kernel."""
        self.client.stop_channels()
        self.manager.restart_kernel(now=False)
        self._connect()

    def stop(self) -> None:
        if self.manager.has_kernel:
            self.client.stop_channels()
            self.manager.shutdown_kernel(now=False)
