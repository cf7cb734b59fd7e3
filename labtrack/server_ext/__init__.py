"""The labtrack Jupyter server extension: proxy to the tracking server and notebook tracking.

Enable it with ``{"ServerApp": {"jpserver_extensions": {"labtrack.server_ext": true}}}``
(installed automatically into ``etc/jupyter/jupyter_server_config.d``).
"""

from __future__ import annotations

from typing import Any

from labtrack import __version__

# `jupyter server extension list` shows the module's __version__ (blank without one).
__all__ = ["__version__", "_jupyter_server_extension_points"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """Tell jupyter_server that this module's extension is the `LabtrackApp`."""
    # Imported here so `import labtrack.server_ext` (e.g. for `labtrack lab`) stays cheap.
    from labtrack.server_ext.app import LabtrackApp

    return [{"module": "labtrack.server_ext", "app": LabtrackApp}]
