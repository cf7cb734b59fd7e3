"""The `labtrack` command: a thin dispatcher; each subcommand lives with the package it drives."""

from __future__ import annotations

import argparse
import sys

from labtrack.agent.cli import add_agent_arguments
from labtrack.data_cli import add_data_parser
from labtrack.server_ext.lab import add_lab_arguments


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labtrack", description="Experiment tracking inside JupyterLab.")
    sub = parser.add_subparsers(dest="command", required=True)

    server = sub.add_parser("server", help="run the tracking server in the foreground")
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=8765)
    server.add_argument("--db", default=None, help="SQLAlchemy URL: sqlite:///path.db or postgresql://…")
    server.add_argument("--artifacts", default=None, help="directory or fsspec URL (s3://bucket/prefix)")
    server.add_argument("--lost-contact-timeout", type=float, default=None,
                        help="seconds without a heartbeat or event before an in_progress task is failed "
                        "(default: $LABTRACK_LOST_CONTACT_TIMEOUT, else 600)")
    server.add_argument("--worker-timeout", type=float, default=None,
                        help="seconds without a heartbeat before a worker (agent) is gone and its running task "
                        "failed (default: $LABTRACK_WORKER_TIMEOUT, else 60)")
    server.add_argument("--max-artifact-bytes", type=int, default=5 * 1024**3)
    server.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    server_sub = server.add_subparsers(dest="server_command", metavar="{stop}")
    stop = server_sub.add_parser("stop", help="stop the per-user server that scripts and JupyterLab start")
    stop.add_argument("--timeout", type=float, default=15.0, help="seconds before SIGKILL (default: %(default)s)")

    status = sub.add_parser("status", help="which tracking server runs go to, its data folder and task count")
    status.add_argument("--json", action="store_true", help="print it as JSON")

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply pending migrations")
    upgrade.add_argument("--db", default=None)

    keys = sub.add_parser("keys", help="API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create an API key and print it once")
    create.add_argument("--user", default=None)
    create.add_argument("--description", default="")
    create.add_argument(
        "--role", choices=("admin", "member"), default=None,
        help="admin keys manage keys; default: admin for a database's first key, member after that",
    )
    create.add_argument("--db", default=None)

    sync = sub.add_parser("sync", help="upload an offline session folder")
    sync.add_argument("folder", nargs="?")
    sync.add_argument("--all", action="store_true", help="replay every spool folder whose process has ended")

    lab = sub.add_parser("lab", help="start JupyterLab with the embedded tracking server")
    add_lab_arguments(lab)

    examples = sub.add_parser("examples", help="copy the example notebooks into a folder (never over your files)")
    examples.add_argument("folder", nargs="?", default=".", help="where to copy them (default: the current folder)")
    add_data_parser(sub)

    agent = sub.add_parser("agent", help="run queued tasks on this machine (a worker of the queues)")
    add_agent_arguments(agent)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.command == "server" and args.server_command == "stop":
        from labtrack.local_status import server_stop_command

        return server_stop_command(args)
    if args.command == "status":
        from labtrack.local_status import status_command

        return status_command(args)
    if args.command == "server":
        from labtrack.server.main import run_server

        return run_server(args)
    if args.command == "db":
        from labtrack.server.main import db_upgrade

        return db_upgrade(args)
    if args.command == "keys":
        from labtrack.server.main import create_key

        return create_key(args)
    if args.command == "sync":
        from labtrack.sdk.offline import sync_command

        return sync_command(args)
    if args.command == "lab":
        from labtrack.server_ext.lab import run_lab

        return run_lab(args)
    if args.command == "data":
        from labtrack.data_cli import data_command

        return data_command(args)
    if args.command == "agent":
        from labtrack.agent.cli import agent_command

        return agent_command(args)
    if args.command == "examples":
        from labtrack.bundled_examples import examples_command

        return examples_command(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
