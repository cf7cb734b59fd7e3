"""Entry points behind the CLI: `labtrack server`, `labtrack db upgrade`, `labtrack keys create`."""

from __future__ import annotations

import argparse
import logging
import os
import stat
import sys
import threading
from pathlib import Path
from typing import Any, Callable

from sqlalchemy.exc import SQLAlchemyError

from labtrack.server.errors import LabtrackError
from labtrack.server.settings import SETTINGS_ENV, Settings, default_artifacts_url, default_db_url


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from `labtrack server` flags plus the bootstrap-key environment variables."""
    flags: dict[str, Any] = {}
    if getattr(args, "lost_contact_timeout", None) is not None:  # else the environment's, else the default
        flags["lost_contact_timeout"] = float(args.lost_contact_timeout)
    if getattr(args, "worker_timeout", None) is not None:
        flags["worker_timeout"] = float(args.worker_timeout)
    return Settings.from_env(
        db_url=getattr(args, "db", None) or default_db_url(),
        artifacts_url=getattr(args, "artifacts", None) or default_artifacts_url(),
        max_artifact_bytes=int(getattr(args, "max_artifact_bytes", 5 * 1024**3)),
        **flags,
    )


# Experiment data is its owner's: every file the server creates is 0600 and every folder 0700.
PRIVATE_UMASK = 0o077


def _sqlite_files(db_url: str) -> list[Path]:
    """The database file of a SQLite URL with its WAL and shared-memory files (none for other URLs)."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return []
    path = Path(url.database).expanduser()
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def _tighten(path: Path, mode: int) -> None:
    """chmod what this user owns and others may read (files made before the umask rule, by older versions)."""
    try:
        info = path.stat()
        if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(path, mode)
    except OSError:
        pass  # missing, or not ours to change: leave it


def keep_data_private(settings: Settings) -> None:
    """Set the umask for everything this process creates, and close up the store it opens.

    The umask covers the database and its WAL/SHM files, artifact and media files and their
    folders, in this process and in the worker processes it starts. Files of the store that an
    older version left readable by others are tightened too (the database files and the
    artifact folder's root, which closes everything below it).
    """
    os.umask(PRIVATE_UMASK)
    for path in _sqlite_files(settings.db_url):
        _tighten(path, 0o600)
    if "://" not in settings.artifacts_url or settings.artifacts_url.startswith("file://"):
        _tighten(Path(settings.artifacts_url.removeprefix("file://")).expanduser(), 0o700)


def run_server(args: argparse.Namespace) -> int:
    """Run the tracking server in the foreground until SIGINT/SIGTERM."""
    import uvicorn

    from labtrack.server.app import create_app
    from labtrack.server.store.db import Database, upgrade

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = settings_from_args(args)
        keep_data_private(settings)
        workers = int(getattr(args, "workers", 1) or 1)
        if workers > 1:
            # Migrate once here; the workers build their apps from the environment.
            db = Database(settings.db_url, pool=False)
            upgrade(db)
            db.dispose()
            os.environ[SETTINGS_ENV] = settings.to_env_json()
            uvicorn.run(
                "labtrack.server.app:app_from_env", factory=True, host=args.host, port=args.port, workers=workers,
                access_log=False, log_level="info", timeout_graceful_shutdown=10,
            )
            return 0
        app = create_app(settings)
    except LabtrackError as exc:
        print(f"labtrack server: {exc.message}", file=sys.stderr)
        return 2
    except (SQLAlchemyError, OSError) as exc:
        print(f"labtrack server: cannot open the database or artifact store: {_first_line(exc)}", file=sys.stderr)
        return 2
    print(f"labtrack server: http://{args.host}:{args.port}/api/v1 (database {_safe_url(settings.db_url)})", flush=True)
    _serve(app, args.host, args.port)
    return 0


def _serve(app: Any, host: str, port: int) -> None:
    """uvicorn's server, except that SIGTERM/SIGINT first ends the long-polling pops.

    They then answer 204 at once; otherwise each would hold the shutdown for its whole grace
    period and then get a 500.
    """
    import uvicorn

    class EndingWaits(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # In a thread: this runs inside a signal handler, which must not take the signal's lock.
            threading.Thread(target=app.state.queues.signal.close, daemon=True).start()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_level="info", timeout_graceful_shutdown=10)
    EndingWaits(config).run()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable url>"


def _with_database(command: str, url: str, work: Callable[[Any], None]) -> int:
    """Open and migrate the database at `url`, run `work(db)`, and turn failures into one-line messages."""
    from labtrack.server.store.db import Database, upgrade

    os.umask(PRIVATE_UMASK)  # a database this command creates is private like the server's
    try:
        db = Database(url, pool=False)
        upgrade(db)
        work(db)
        db.dispose()
    except LabtrackError as exc:
        print(f"labtrack {command}: {exc.message}", file=sys.stderr)
        return 2
    except (SQLAlchemyError, OSError) as exc:
        print(f"labtrack {command}: cannot open {_safe_url(url)}: {_first_line(exc)}", file=sys.stderr)
        return 2
    return 0


def db_upgrade(args: argparse.Namespace) -> int:
    """Apply pending migrations to the database and exit."""
    url = getattr(args, "db", None) or default_db_url()
    if code := _with_database("db upgrade", url, lambda db: None):
        return code
    print(f"database {_safe_url(url)} is up to date")
    return 0


def create_key(args: argparse.Namespace) -> int:
    """Create an API key in the database and print it once."""
    from labtrack.server.auth import KeyService

    url = getattr(args, "db", None) or default_db_url()
    user = getattr(args, "user", None) or Settings.from_env().bootstrap_user
    description, role = getattr(args, "description", "") or "", getattr(args, "role", None)
    created: dict[str, Any] = {}
    work = lambda db: created.update(KeyService(db).create(user, description, role))  # noqa: E731
    if code := _with_database("keys create", url, work):
        return code
    print(created["key"])
    print(f"({created['role']} key id {created['id']} for user {user!r}; this is the only time the key is shown)",
          file=sys.stderr)
    return 0
