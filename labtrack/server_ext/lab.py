"""`labtrack lab` (what `make lab` runs): JupyterLab with labtrack, opened on the quickstart notebook.

The examples are copied into a workspace folder (never over a file the user already has) and
JupyterLab starts there with the labtrack server extension enabled, which starts the embedded
tracking server when nothing else is configured.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from labtrack import paths

QUICKSTART = "quickstart.ipynb"


def examples_dir() -> Path | None:
    """The source checkout's examples/ folder (it is not part of an installed wheel)."""
    candidate = Path(__file__).resolve().parents[2] / "examples"
    return candidate if (candidate / QUICKSTART).is_file() else None


def prepare_workspace(workspace: Path, examples: Path | None) -> list[Path]:
    """Copy the example notebooks and data into `workspace`; return the files copied.

    Existing files are left alone: the user may have edited their copy of the quickstart.
    """
    workspace.mkdir(parents=True, exist_ok=True)
    copied: list[Path] = []
    if examples is None:
        return copied
    for source in sorted(examples.rglob("*")):
        relative = source.relative_to(examples)
        # The generator scripts and caches are for developers, not for the workspace.
        if not source.is_file() or source.name.startswith("make_") or "__pycache__" in relative.parts:
            continue
        target = workspace / relative
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        copied.append(target)
    return copied


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
    workspace = Path(args.notebook_dir).expanduser().resolve() if args.notebook_dir else paths.data_dir() / "workspace"
    try:
        copied = prepare_workspace(workspace, examples_dir())
    except OSError as exc:
        print(f"labtrack lab: cannot prepare the workspace {workspace}: {exc}\n"
              "Pick another folder with --notebook-dir.", file=sys.stderr)
        return 2
    print(f"labtrack lab: workspace {workspace}" + (f" ({len(copied)} example files copied)" if copied else ""))
    if examples_dir() is None:
        print("labtrack lab: the example notebooks come with the source checkout; none found here.")
    cmd = lab_command(workspace, args.port, open_browser=not args.no_browser)
    sys.stdout.flush()
    os.chdir(workspace)
    os.execv(cmd[0], cmd)
    return 0  # not reached
