"""labtrack: experiment tracking that lives inside JupyterLab.

The public SDK names are imported lazily so that `import labtrack` stays cheap (the CLI and
the server import this package too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "ApiClient",
    "ApiError",
    "Artifact",
    "Dataset",
    "InputModel",
    "LabtrackError",
    "Logger",
    "Model",
    "NotFound",
    "OutputModel",
    "ServerUnreachable",
    "Task",
    "TaskWaitTimeout",
    "__version__",
]

_LAZY = {
    "Task": "labtrack.sdk.task",
    "Logger": "labtrack.sdk.logger",
    "ApiClient": "labtrack.sdk.client",
    "Artifact": "labtrack.sdk.artifacts",
    "Dataset": "labtrack.sdk.datasets",
    "Model": "labtrack.sdk.models",
    "InputModel": "labtrack.sdk.models",
    "OutputModel": "labtrack.sdk.models",
    "LabtrackError": "labtrack.sdk.errors",
    "ApiError": "labtrack.sdk.errors",
    "NotFound": "labtrack.sdk.errors",
    "ServerUnreachable": "labtrack.sdk.errors",
    "TaskWaitTimeout": "labtrack.sdk.remote",
}

if TYPE_CHECKING:  # pragma: no cover
    from labtrack.sdk.artifacts import Artifact
    from labtrack.sdk.client import ApiClient
    from labtrack.sdk.datasets import Dataset
    from labtrack.sdk.errors import ApiError, LabtrackError, NotFound, ServerUnreachable
    from labtrack.sdk.logger import Logger
    from labtrack.sdk.models import InputModel, Model, OutputModel
    from labtrack.sdk.remote import TaskWaitTimeout
    from labtrack.sdk.task import Task


def _install_argv_capture() -> None:
    """Record `parse_args()` results from import time on, so Task.init can connect them later."""
    from labtrack.sdk.argv import install_argparse_capture

    install_argparse_capture()


_install_argv_capture()


def __getattr__(name: str) -> Any:
    import importlib

    if name == "widgets":  # the submodule, on first use: it loads ipywidgets
        return importlib.import_module("labtrack.widgets")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'labtrack' has no attribute {name!r}")

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
