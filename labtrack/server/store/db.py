"""Engines, transactions and migrations for SQLite (WAL) and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import NullPool

from labtrack.server.errors import BadRequest, Unavailable

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_PG_LOCK_ID = 0x1AB7AC  # advisory lock id: only one replica migrates at a time
BUSY_TIMEOUT = 60.0  # default seconds a SQLite writer waits for another process's write lock
_PG_CONNECT_TIMEOUT = 10  # seconds: an unreachable host is a quick 503, not a request that hangs
# SQLite result codes (the low byte of an extended code) that mean "not now" rather than a bug:
# BUSY, LOCKED, IOERR, FULL, CANTOPEN, PROTOCOL.
_SQLITE_TRANSIENT = {5, 6, 10, 13, 14, 15}


class WriteBusy(Exception):
    """`write_cursor(wait=False)` would have had to wait for another writer."""


def normalize_url(url: str) -> str:
    """Map `postgresql://` to the psycopg 3 driver SQLAlchemy would not pick on its own."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Database:
    """A store's engines: reads go through `read()`, writes through `write()` (serialized on SQLite)."""

    def __init__(self, url: str, *, pool: bool = True, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.url = normalize_url(url)
        self._busy_ms = int(busy_timeout * 1000)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise BadRequest(f"Unsupported database URL {parsed.render_as_string(hide_password=True)!r}: use sqlite:///path.db or postgresql://…")
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            kwargs: dict = {"connect_args": {"timeout": busy_timeout, "check_same_thread": False}}
            # Enough connections for the request thread pool, so a burst waits on SQLite, not the pool.
            kwargs.update({"poolclass": NullPool} if not pool else {"pool_size": 20, "max_overflow": 30})
            self.engine = create_engine(self.url, **kwargs)
            self._setup_sqlite(self.engine)
        else:
            kwargs = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}
            if not pool:
                kwargs = {"poolclass": NullPool}
            if "connect_timeout" not in parsed.query:
                kwargs["connect_args"] = {"connect_timeout": _PG_CONNECT_TIMEOUT}
            self.engine = create_engine(self.url, **kwargs)

    def _setup_sqlite(self, engine: Engine) -> None:
        busy_ms = self._busy_ms

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
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
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
    def write_cursor(self, *, wait: bool = True) -> Iterator[Any]:
        """A write transaction as a bare DB-API cursor, for fixed hot-path statements.

        Same transaction as `write()` (BEGIN IMMEDIATE under the write lock on SQLite), without
        SQLAlchemy's per-statement work; driver errors leave as SQLAlchemy's exception classes
        (IntegrityError, DataError, ...) so callers and error handlers treat them alike. With
        `wait=False` a SQLite writer raises `WriteBusy` at once instead of waiting for another
        thread's or process's write lock.
        """
        base_error = self.engine.dialect.loaded_dbapi.Error
        lock = self._write_lock
        if lock is not None and not lock.acquire(blocking=wait):
            raise WriteBusy("another write is in progress")
        try:
            pooled = self.engine.raw_connection()
            try:
                dbapi_conn = pooled.driver_connection
                cursor = dbapi_conn.cursor()  # type: ignore[union-attr]
                try:
                    if self.dialect == "sqlite":
                        _begin_immediate(cursor, wait, self._busy_ms)
                    yield cursor
                    dbapi_conn.commit()  # type: ignore[union-attr]
                except BaseException as exc:
                    try:
                        dbapi_conn.rollback()  # type: ignore[union-attr]
                    except base_error:
                        # The connection died (the database went away): the pool must not hand it
                        # out again, and the caller hears about the first error, not this one.
                        pooled.invalidate()
                        if not isinstance(exc, base_error):
                            raise
                    if isinstance(exc, base_error):
                        raise DBAPIError.instance(None, None, exc, base_error, dialect=self.engine.dialect) from exc
                    raise
                finally:
                    cursor.close()
            finally:
                pooled.close()  # back to the pool
        finally:
            if lock is not None:
                lock.release()

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()


def _begin_immediate(cursor: Any, wait: bool, busy_ms: int) -> None:
    """Take SQLite's write lock; without `wait`, fail with WriteBusy if another process holds it."""
    if wait:
        cursor.execute("BEGIN IMMEDIATE")
        return
    cursor.execute("PRAGMA busy_timeout=0")
    try:
        cursor.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise WriteBusy("another process is writing") from exc
    finally:
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")


def unavailable_from(exc: BaseException) -> Unavailable | None:
    """The 503 for a database error that means "can't reach or use the database right now"
    (connection refused or lost, server shutting down, pool exhausted, SQLite locked past its busy
    timeout, disk full), or None for an error that is a bug or a bad value."""
    if isinstance(exc, PoolTimeout):
        return Unavailable("The server is too busy to take the request (no free database connection): "
                           "retry in a few seconds.", {"reason": "pool_exhausted"})
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, sqlite3.Error):
        if _sqlite_transient(orig):
            return Unavailable(f"The database is busy or unavailable ({orig}): retry in a few seconds.",
                               {"reason": "database_busy"})
        return None
    transient = (OperationalError, InterfaceError)
    if (isinstance(exc, DBAPIError) and (exc.connection_invalidated or isinstance(exc, transient))) or _is_driver_transient(orig):
        return Unavailable("The database can't be reached right now: retry in a few seconds.",
                           {"reason": "database_unreachable"})
    return None


def _sqlite_transient(exc: sqlite3.Error) -> bool:
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return (code & 0xFF) in _SQLITE_TRANSIENT
    text = str(exc).lower()
    return any(word in text for word in ("locked", "busy", "unable to open", "disk i/o", "disk is full"))


def _is_driver_transient(exc: BaseException | None) -> bool:
    """A raw psycopg connection-level error (one that escaped SQLAlchemy's wrapping)."""
    return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))


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
