"""The package as a new user gets it: a wheel built from a clean copy of the checkout with no
`node` on PATH, installed into a fresh virtual environment.

The wheel is built once per session (a full lab-extension build, minutes on two busy cores) and
shared by the install tests. The fresh venv gets only the wheel (`--no-deps`); the wheel's
dependencies come from the test venv's site-packages through a `.pth` line, which puts that
folder on sys.path without running its `.pth` files, so the checkout's editable labtrack is not
importable there and every labtrack file the tests see is the wheel's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
# Node's own commands; none of them may be reachable for the build to prove it needs none.
NODE_COMMANDS = frozenset({"node", "nodejs", "npm", "npx", "corepack", "yarn", "yarnpkg"})


def path_without_node(shadow: Path) -> str:
    """A PATH of one folder linking every command of the current PATH except Node's.

    Node usually sits in /usr/bin beside everything else a build needs (sh, git, tar), so
    dropping folders from PATH cannot remove it alone.
    """
    shadow.mkdir(parents=True, exist_ok=True)
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder or not os.path.isdir(folder):
            continue
        for entry in os.scandir(folder):
            link = shadow / entry.name
            if entry.name in NODE_COMMANDS or link.exists() or link.is_symlink():
                continue  # the first folder on PATH wins, as in a shell
            if entry.is_file() and os.access(entry.path, os.X_OK):
                link.symlink_to(entry.path)
    return str(shadow)


def copy_checkout(target: Path) -> Path:
    """Copy what a fresh clone would have (tracked and not-ignored files): no node_modules,
    no built labextension, no venv."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=CHECKOUT, capture_output=True, check=True,
    ).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = CHECKOUT / name
        if source.is_file():  # a file deleted but not yet committed is still listed
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@dataclass
class BuiltWheel:
    path: Path
    build_path: str  # the PATH the build ran with
    log: str
    seconds: float


@dataclass
class WheelVenv:
    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def labtrack(self) -> Path:
        return self.root / "bin" / "labtrack"
