"""`labtrack lab` (what `make lab` runs): JupyterLab with labtrack, opened on the quickstart notebook.

JupyterLab serves the current folder (or `--notebook-dir`), as `jupyter lab` does; the example
notebooks that ship with the package are copied into it when missing (never over a file the user
already has) and it starts with the labtrack server extension enabled, which starts the embedded
tracking server when nothing else is configured.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from labtrack.bundled_examples import QUICKSTART, copy_examples, examples_dir, missing_example_modules_hint

# The name the workspace step had before the examples moved into the package.
prepare_workspace = copy_examples

__all__ = ["add_lab_arguments", "lab_command", "prepare_workspace", "run_lab"]


def add_lab_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `labtrack lab`, each with the help text `labtrack lab --help` shows."""
    parser.add_argument("--port", type=int, default=8888, metavar="PORT",
                        help="port for JupyterLab on 127.0.0.1 (default: %(default)s)")
    parser.add_argument("--notebook-dir", default=None, metavar="DIR",
                        help="folder JupyterLab serves; the example notebooks are copied into it when "
                             "missing, never over your files (default: the current folder)")
    parser.add_argument("--no-browser", action="store_true",
                        help="do not open a web browser; open the URL JupyterLab prints yourself")


def lab_command(workspace: Path, port: int, open_browser: bool) -> list[str]:
    """The `jupyter lab` command line: loopback only, the extension on, the quickstart opened."""
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--ip=127.0.0.1", f"--port={port}", f"--ServerApp.root_dir={workspace}",
        # Enabled explicitly too, so a checkout whose auto-enable file is not installed still works.
        "--ServerApp.jpserver_extensions=labtrack.server_ext=True",
    ]
    if (workspace / QUICKSTART).is_file():
        cmd.append(f"--LabApp.default_url=/lab/tree/{QUICKSTART}")
    if not open_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # Jupyter refuses to start as root without it
    return cmd


def run_lab(args: argparse.Namespace) -> int:
    """Entry point of `labtrack lab`; replaces this process with JupyterLab (so Ctrl-C reaches it)."""
    workspace = Path(args.notebook_dir or os.getcwd()).expanduser().resolve()
    try:
        copied = copy_examples(workspace, examples_dir())
    except OSError as exc:
        print(f"labtrack lab: cannot copy the examples into {workspace}: {exc}\n"
              "Pick another folder with --notebook-dir.", file=sys.stderr)
        return 2
    print(f"labtrack lab: serving {workspace}" + (f" ({len(copied)} example files copied)" if copied else ""))
    hint = missing_example_modules_hint()
    if hint:
        print(f"labtrack lab: {hint}")
    cmd = lab_command(workspace, args.port, open_browser=not args.no_browser)
    sys.stdout.flush()
    os.chdir(workspace)
    os.execv(cmd[0], cmd)
    return 0  # not reached
