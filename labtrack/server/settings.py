"""Server settings: one immutable object handed to `create_app`, so the app holds no globals."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field

from labtrack import paths
from labtrack.server.errors import BadRequest

SETTINGS_ENV = "LABTRACK_SERVER_SETTINGS"
BOOTSTRAP_KEY_ENV = "LABTRACK_SERVER_BOOTSTRAP_KEY"
BOOTSTRAP_USER_ENV = "LABTRACK_SERVER_BOOTSTRAP_USER"
# Seconds an in_progress task may stay silent (no heartbeat, no event) before the watchdog fails it;
# `labtrack server --lost-contact-timeout` wins over it.
LOST_CONTACT_ENV = "LABTRACK_LOST_CONTACT_TIMEOUT"
DEFAULT_LOST_CONTACT_TIMEOUT = 600.0
# Seconds a worker (agent) may go without a heartbeat before it is marked gone and its running task
# failed ("worker lost"); `labtrack server --worker-timeout` wins over it.
WORKER_TIMEOUT_ENV = "LABTRACK_WORKER_TIMEOUT"
DEFAULT_WORKER_TIMEOUT = 60.0


def default_db_url() -> str:
    """SQLite under the user's data directory (the embedded default)."""
    return f"sqlite:///{paths.data_dir() / 'labtrack.db'}"


def default_artifacts_url() -> str:
    """A local folder under the user's data directory."""
    return str(paths.data_dir() / "artifacts")


def _default_user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "local"


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to know; built from CLI flags or the environment."""

    db_url: str = field(default_factory=default_db_url)
    artifacts_url: str = field(default_factory=default_artifacts_url)
    lost_contact_timeout: float = DEFAULT_LOST_CONTACT_TIMEOUT
    worker_timeout: float = DEFAULT_WORKER_TIMEOUT
    max_artifact_bytes: int = 5 * 1024**3
    max_batch_points: int = 100_000
    # An event batch's body: larger ones are 413 before they are read (bounds memory per request).
    max_body_bytes: int = 64 * 1024**2
    # One console event's text: longer text is stored cut, with a marker saying how much.
    max_console_bytes: int = 1024**2
    # Seconds a SQLite writer waits for another process's write lock before answering 503.
    sqlite_busy_timeout: float = 60.0
    bootstrap_key: str | None = None
    bootstrap_user: str = field(default_factory=_default_user)
    migrate_on_start: bool = True
    watchdog: bool = True

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        """Settings from `LABTRACK_SERVER_SETTINGS` (JSON) plus the bootstrap key variables."""
        data: dict = {}
        if os.environ.get(LOST_CONTACT_ENV):  # below the JSON: that one carries a worker's parent's flags
            data["lost_contact_timeout"] = _seconds(os.environ[LOST_CONTACT_ENV], LOST_CONTACT_ENV)
        if os.environ.get(WORKER_TIMEOUT_ENV):
            data["worker_timeout"] = _seconds(os.environ[WORKER_TIMEOUT_ENV], WORKER_TIMEOUT_ENV)
        raw = os.environ.get(SETTINGS_ENV)
        if raw:
            data.update(json.loads(raw))
        if os.environ.get(BOOTSTRAP_KEY_ENV):
            data["bootstrap_key"] = os.environ[BOOTSTRAP_KEY_ENV]
        if os.environ.get(BOOTSTRAP_USER_ENV):
            data["bootstrap_user"] = os.environ[BOOTSTRAP_USER_ENV]
        data.update(overrides)
        return cls(**data)

    def __post_init__(self) -> None:
        _seconds(self.lost_contact_timeout, "--lost-contact-timeout")
        _seconds(self.worker_timeout, "--worker-timeout")

    def to_env_json(self) -> str:
        """Serialize for worker processes; the bootstrap key travels in its own variable."""
        data = asdict(self)
        data.pop("bootstrap_key")
        return json.dumps(data)


def _seconds(value: object, name: str) -> float:
    """A positive, finite number of seconds; BadRequest naming the setting otherwise."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise BadRequest(f"{name}={value!r} is not a number of seconds greater than 0.")
    return seconds
