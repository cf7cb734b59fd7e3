"""`labtrack agent`: its arguments (each with an environment variable) and the command itself."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def parse_gpus(value: str | None) -> list[int] | None:
    """`--gpus`: "0,1" → [0, 1]; "none" → [] (no GPU visible); unset or "all" → None (every GPU)."""
    if value is None or value.strip().lower() in ("", "all"):
        return None
    if value.strip().lower() == "none":
        return []
    try:
        indices = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--gpus takes GPU indices like 0,1 (or all, none), not {value!r}") from None
    if any(i < 0 for i in indices):
        raise argparse.ArgumentTypeError("--gpus indices start at 0")
    return indices


def add_agent_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queue", action="append", dest="queues", metavar="QUEUE",
                        help="a queue to serve (repeat it: earlier ones first); default: default")
    parser.add_argument("--gpus", default=os.environ.get("LABTRACK_AGENT_GPUS"),
                        help="GPU indices for tasks, e.g. 0,1 (sets CUDA_VISIBLE_DEVICES); all (default) or none")
    parser.add_argument("--once", action="store_true", help="run one task, then exit")
    parser.add_argument("--workdir", default=os.environ.get("LABTRACK_AGENT_WORKDIR"),
                        help="where code, environments and runs are kept (default: labtrack's data folder/agent)")
    parser.add_argument("--name", default=os.environ.get("LABTRACK_AGENT_NAME"),
                        help="the worker's name (default: the host name, plus :gpuN,M with --gpus)")
    parser.add_argument("--create-queue", action="store_true", help="create the queues that do not exist")
    parser.add_argument("--heartbeat-interval", type=float, default=_env_float("LABTRACK_AGENT_HEARTBEAT_INTERVAL", 3.0),
                        help="seconds between heartbeats (how soon an abort arrives; default: %(default)s)")
    parser.add_argument("--poll-wait", type=float, default=_env_float("LABTRACK_AGENT_POLL_WAIT", 5.0),
                        help="seconds one long-poll of the queues waits (default: %(default)s)")
    parser.add_argument("--stop-grace", type=float, default=_env_float("LABTRACK_AGENT_STOP_GRACE", 10.0),
                        help="seconds between SIGTERM and SIGKILL when a task is stopped (default: %(default)s)")
    parser.add_argument("--keep-runs", action="store_true", help="keep each task's run folder (code, notebook) after it ends")


def agent_command(args: argparse.Namespace) -> int:
    from labtrack import paths
    from labtrack.agent.daemon import Agent, AgentError
    from labtrack.agent.settings import AgentSettings
    from labtrack.sdk.client import ApiClient
    from labtrack.sdk.errors import LabtrackError

    try:
        gpus = parse_gpus(args.gpus)
    except argparse.ArgumentTypeError as exc:
        print(f"labtrack agent: {exc}", file=sys.stderr)
        return 2
    name = args.name or socket.gethostname() + (f":gpu{','.join(map(str, gpus))}" if gpus else "")
    workdir = Path(args.workdir).expanduser().resolve() if args.workdir else paths.data_dir() / "agent"
    settings = AgentSettings(
        queues=args.queues or ["default"], workdir=workdir, name=name, gpus=gpus, once=args.once,
        heartbeat_interval=max(0.2, args.heartbeat_interval), poll_wait=min(max(0.0, args.poll_wait), 60.0),
        stop_grace=max(0.0, args.stop_grace), create_queues=args.create_queue, keep_runs=args.keep_runs,
        echo=sys.stdout,
    )
    try:
        client = ApiClient.from_environment()
        return Agent(client, settings).run()
    except AgentError as exc:
        print(f"labtrack agent: {exc}", file=sys.stderr)
        return 1
    except LabtrackError as exc:
        print(f"labtrack agent: {exc}", file=sys.stderr)
        return 1
