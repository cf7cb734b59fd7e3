"""Command-line capture: every namespace the program parses from `sys.argv` is recorded.

Installed by `import labtrack` (it only wraps `ArgumentParser.parse_known_args`, nothing else
is imported), so `parse_args()` called before `Task.init` is captured as ClearML users expect.
"""

from __future__ import annotations

import argparse
import threading
from typing import Callable

_parsed: list[argparse.Namespace] = []
_hooks: list[Callable[[argparse.Namespace], object]] = []
_inside = threading.local()
_original = argparse.ArgumentParser.parse_known_args


def _patched_parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
    if getattr(_inside, "depth", 0):  # subparsers parse recursively: record the outer result only
        return _original(self, args, namespace)
    _inside.depth = 1
    try:
        ns, rest = _original(self, args, namespace)
    finally:
        _inside.depth = 0
    if args is None:  # parsers fed explicit lists belong to libraries, not to the program's argv
        _parsed.append(ns)
        for hook in list(_hooks):
            try:
                hook(ns)
            except Exception:  # tracking must never break argument parsing
                pass
    return ns, rest


def install_argparse_capture() -> None:
    """Wrap `ArgumentParser.parse_known_args` once."""
    if argparse.ArgumentParser.parse_known_args is not _patched_parse_known_args:
        argparse.ArgumentParser.parse_known_args = _patched_parse_known_args  # type: ignore[method-assign]


def parsed_namespaces() -> list[argparse.Namespace]:
    """Namespaces parsed from the command line so far, oldest first."""
    return list(_parsed)


def add_argparse_hook(hook: Callable[[argparse.Namespace], object]) -> None:
    """Call `hook(namespace)` after each later parse of the command line."""
    _hooks.append(hook)


def remove_argparse_hook(hook: Callable[[argparse.Namespace], object]) -> None:
    if hook in _hooks:
        _hooks.remove(hook)
