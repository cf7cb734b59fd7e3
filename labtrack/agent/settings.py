"""What an agent is told at start (`labtrack agent` arguments), shared by the daemon and each task run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


@dataclass
class AgentSettings:
    queues: list[str]
    workdir: Path
    name: str
    gpus: list[int] | None = None  # None: the child sees every GPU; []: none
    once: bool = False
    heartbeat_interval: float = 3.0
    poll_wait: float = 5.0
    stop_grace: float = 10.0
    create_queues: bool = False
    keep_runs: bool = False
    console_interval: float = 0.5
    echo: IO[str] | None = field(default=None, repr=False)  # where the child's output is copied (the agent's stdout)
