"""The example notebooks: where they are, and copying them into a user's folder.

An installed wheel carries them as `labtrack/examples/` (hatch_build.py puts the files of the
checkout's examples/ there, without the `make_*` generators); a source checkout has them in
examples/ beside the package. The one invariant of copying: a file the user already has is never
overwritten, because it may hold their edits.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
from pathlib import Path

QUICKSTART = "quickstart.ipynb"
# What the examples import beyond labtrack's own dependencies: the `examples` extra.
EXAMPLE_MODULES = ("numpy",)
_PACKAGE_DIR = Path(__file__).resolve().parent


def examples_dir() -> Path | None:
    """The folder holding the example notebooks: the installed package's, else the checkout's."""
    for candidate in (_PACKAGE_DIR / "examples", _PACKAGE_DIR.parent / "examples"):
        if (candidate / QUICKSTART).is_file():
            return candidate
    return None


def copy_examples(target: Path, examples: Path | None) -> list[Path]:
    """Copy the example files into `target` (created if needed); return the files copied.

    Generator scripts (`make_*`) and caches are for developers and stay behind.
    """
    target.mkdir(parents=True, exist_ok=True)
    copied: list[Path] = []
    if examples is None:
        return copied
    for source in sorted(examples.rglob("*")):
        relative = source.relative_to(examples)
        if not source.is_file() or source.name.startswith("make_") or "__pycache__" in relative.parts:
            continue
        destination = target / relative
        if destination.exists():
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
        copied.append(destination)
    return copied


def missing_example_modules_hint() -> str | None:
    """A line telling a pip user how to get what the examples import, or None when it is there."""
    missing = [name for name in EXAMPLE_MODULES if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return (f"the example notebooks also need {', '.join(missing)}: "
            "pip install 'labtrack[examples]' (into this environment)")


def examples_command(args: argparse.Namespace) -> int:
    """`labtrack examples [FOLDER]`: copy the example notebooks there (default: the current folder)."""
    target = Path(args.folder).expanduser().resolve()
    source = examples_dir()
    if source is None:
        print("labtrack examples: this installation has no example notebooks", file=sys.stderr)
        return 1
    try:
        copied = copy_examples(target, source)
    except OSError as exc:
        print(f"labtrack examples: cannot copy into {target}: {exc}", file=sys.stderr)
        return 2
    for path in copied:
        print(f"copied {path}")
    if not copied:
        print(f"labtrack examples: {target} already has every example (nothing overwritten)")
    hint = missing_example_modules_hint()
    if hint:
        print(f"labtrack examples: {hint}")
    return 0
