"""Engines, transactions and migrations for SQLite (WAL) and PostgreSQL."""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from labtrack.server.errors import BadRequest

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_PG_LOCK_ID = 0x1AB7AC  # advisory lock id: only one replica migrates at a time


def normalize_url(url: str) -> str:
    """Map `postgresql://` to the psycopg 3 driver SQLAlchemy would not pick on its own."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Database:
    """A store's engines: reads go through `read()`, writes through `write()` (serialized on SQLite)."""

    def __init__(self, url: str, *, pool: bool = True) -> None:
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise BadRequest(f"Unsupported database URL {parsed.render_as_string(hide_password=True)!r}: use sqlite:///path.db or postgresql://…")
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            kwargs: dict = {"connect_args": {"timeout": 60, "check_same_thread": False}}
            # Enough connections for the request thread pool, so a burst waits on SQLite, not the pool.
            kwargs.update({"poolclass": NullPool} if not pool else {"pool_size": 20, "max_overflow": 30})
            self.engine = create_engine(self.url, **kwargs)
            self._setup_sqlite(self.engine)
        else:
            kwargs = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}
            if not pool:
                kwargs = {"poolclass": NullPool}
            self.engine = create_engine(self.url, **kwargs)

    @staticmethod
    def _setup_sqlite(engine: Engine) -> None:
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            # Let us issue BEGIN ourselves (pysqlite's implicit transactions defer locks badly).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL keeps committed data across a process crash (kill -9); only an OS
            # crash or power loss can drop the last commits.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA cache_size=-65536")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            mode = conn.info.pop("begin_mode", "")
            conn.exec_driver_sql(f"BEGIN {mode}".strip())

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a (deferred) transaction for reads."""
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; on SQLite it takes the write lock up front (BEGIN IMMEDIATE)."""
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock:
            with self.engine.connect() as conn:
                conn.info["begin_mode"] = "IMMEDIATE"
                with conn.begin():
                    yield conn

    @contextmanager
    def write_cursor(self) -> Iterator[Any]:
        """A write transaction as a bare DB-API cursor, for fixed hot-path statements.

        Same transaction as `write()` (BEGIN IMMEDIATE under the write lock on SQLite), without
        SQLAlchemy's per-statement work; driver errors leave as SQLAlchemy's exception classes
        (IntegrityError, DataError, ...) so callers and error handlers treat them alike.
        """
        base_error = self.engine.dialect.loaded_dbapi.Error
        with self._write_lock or nullcontext():
            pooled = self.engine.raw_connection()
            try:
                dbapi_conn = pooled.driver_connection
                cursor = dbapi_conn.cursor()  # type: ignore[union-attr]
                try:
                    if self.dialect == "sqlite":
                        cursor.execute("BEGIN IMMEDIATE")
                    yield cursor
                    dbapi_conn.commit()  # type: ignore[union-attr]
                except BaseException as exc:
                    dbapi_conn.rollback()  # type: ignore[union-attr]
                    if isinstance(exc, base_error):
                        raise DBAPIError.instance(None, None, exc, base_error, dialect=self.engine.dialect) from exc
                    raise
                finally:
                    cursor.close()
            finally:
                pooled.close()  # back to the pool

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()


def alembic_config(conn: Connection):  # type: ignore[no-untyped-def]
    """An alembic Config bound to an open connection, with our packaged migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = conn
    return cfg


def upgrade(db: Database) -> None:
    """Apply every pending migration (idempotent; concurrent replicas take turns)."""
    from alembic import command

    if db.dialect == "postgresql":
        with db.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _PG_LOCK_ID})
            try:
                conn.commit()
                command.upgrade(alembic_config(conn), "head")
                conn.commit()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _PG_LOCK_ID})
                conn.commit()
        return
    with db.engine.connect() as conn:
        conn.info["begin_mode"] = "IMMEDIATE"
        command.upgrade(alembic_config(conn), "head")
        conn.commit()
