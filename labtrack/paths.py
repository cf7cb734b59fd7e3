"""Where labtrack keeps per-user state: one place, so the SDK, server and extension agree.

`LABTRACK_HOME` moves everything under one folder (tests use it for isolation);
otherwise the platform's user config and data directories are used.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "labtrack"


def _home_override() -> Path | None:
    home = os.environ.get("LABTRACK_HOME")
    return Path(home).expanduser() if home else None


def config_dir() -> Path:
    home = _home_override()
    return home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    home = _home_override()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME))


def config_file() -> Path:
    return config_dir() / "config.json"


def read_config() -> dict[str, Any]:
    """The user's config as a dict; empty when the file is missing or unreadable."""
    try:
        return json.loads(config_file().read_text())
    except (OSError, ValueError):
        return {}


def write_config(updates: dict[str, Any]) -> Path:
    """Merge `updates` into the config file, which is created readable by its owner only (0600)."""
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    merged = {**read_config(), **updates}
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(merged, fh, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path
