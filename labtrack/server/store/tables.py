"""SQLAlchemy Core tables: the whole schema in one place (alembic migrations are derived from it).

Times are Unix seconds (double) so sorting, ranges and arithmetic are portable between SQLite
and PostgreSQL. Structured fields (hyperparams, script, …) are JSON text that the store never
queries into; anything we filter or sort on has its own column or table.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# On SQLite an INTEGER PRIMARY KEY is the rowid: free, and autoincrementing.
BigId = BigInteger().with_variant(Integer(), "sqlite")

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created", Float, nullable=False),
    Column("revoked", Float, nullable=True),
    Column("role", String(20), nullable=False),  # admin | member (auth.ROLES)
)

projects = Table(
    "projects",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(1000), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("created", Float, nullable=False),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id"), nullable=False),
    Column("name", String(1000), nullable=False),
    Column("type", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("status_reason", Text, nullable=False, default=""),
    Column("status_message", Text, nullable=False, default=""),
    Column("stop_requested", Boolean, nullable=False, default=False),
    Column("archived", Boolean, nullable=False, default=False),
    Column("tags", Text, nullable=False, default="[]"),
    Column("comment", Text, nullable=False, default=""),
    Column("parent_id", String(32), nullable=True),
    Column("user", String(200), nullable=False, default=""),
    Column("created", Float, nullable=False),
    Column("started", Float, nullable=True),
    Column("last_update", Float, nullable=False),
    Column("completed", Float, nullable=True),
    Column("last_iteration", BigInteger, nullable=True),
    Column("hyperparams", Text, nullable=False, default="{}"),
    Column("configuration", Text, nullable=False, default="{}"),
    Column("script", Text, nullable=False, default="{}"),
    Column("runtime", Text, nullable=False, default="{}"),
    # The queue a `queued` task waits in (NULL otherwise) and the worker that runs or ran it.
    Column("queue", String(32), nullable=True),
    Column("worker", String(32), nullable=True),
    Index(None, "archived", "created"),
    Index(None, "archived", "last_update"),
    Index(None, "project_id", "archived", "created"),
    Index(None, "status", "archived", "created"),
    Index(None, "status", "last_update"),
    Index(None, "name"),
    Index(None, "queue"),
    Index(None, "worker", "status"),
)

task_tags = Table(
    "task_tags",
    metadata,
    Column("task_id", String(32), ForeignKey("tasks.id"), primary_key=True),
    Column("tag", String(200), primary_key=True),
    Index(None, "tag", "task_id"),
)

# One row per (task, metric, variant): the series id plus its running summary, so lists and
# comparisons read last/min/max without scanning points.
metric_series = Table(
    "metric_series",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("task_id", String(32), ForeignKey("tasks.id"), nullable=False),
    Column("metric", String(500), nullable=False),
    Column("variant", String(500), nullable=False),
    Column("count", BigInteger, nullable=False, default=0),
    Column("last", Float, nullable=True),
    Column("min", Float, nullable=True),
    Column("max", Float, nullable=True),
    Column("last_iteration", BigInteger, nullable=True),
    UniqueConstraint("task_id", "metric", "variant"),
    Index(None, "metric", "variant", "last"),
)

# The narrow points table: four numbers per point, clustered by series and iteration.
scalars = Table(
    "scalars",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("series_id", BigInteger, nullable=False),
    Column("iteration", BigInteger, nullable=False),
    Column("value", Float, nullable=True),
    Column("time", Float, nullable=False),
    Index(None, "series_id", "iteration"),
)

# Everything that is not a scalar: console lines, plots, tables, images. `id` is the seq.
events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("task_id", String(32), ForeignKey("tasks.id"), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("metric", String(500), nullable=False, default=""),
    Column("variant", String(500), nullable=False, default=""),
    Column("iteration", BigInteger, nullable=True),
    Column("time", Float, nullable=False),
    Column("stream", String(10), nullable=False, default=""),
    Column("payload", Text, nullable=False),
    Index(None, "task_id", "kind", "id"),
)

# Idempotency: a batch id seen once for a task is never stored again.
event_batches = Table(
    "event_batches",
    metadata,
    Column("task_id", String(32), ForeignKey("tasks.id"), primary_key=True),
    Column("batch_id", String(200), primary_key=True),
    Column("accepted", Integer, nullable=False),
    Column("created", Float, nullable=False),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("task_id", String(32), ForeignKey("tasks.id"), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("type", String(100), nullable=False, default=""),
    Column("uri", Text, nullable=False),
    Column("filename", Text, nullable=False, default=""),
    Column("size", BigInteger, nullable=True),
    Column("sha256", String(64), nullable=True),
    Column("preview", Text, nullable=False, default=""),
    Column("metadata", Text, nullable=False, default="{}"),
    Column("created", Float, nullable=False),
    Column("external", Boolean, nullable=False, default=False),
)

# Rollup of `scalars` in fixed blocks of BLOCK_SIZE iterations per series, kept current on
# ingest, so downsampling a long series reads ~1/BLOCK_SIZE of its rows.
BLOCK_SIZE = 32
scalar_blocks = Table(
    "scalar_blocks",
    metadata,
    Column("series_id", BigInteger, primary_key=True, autoincrement=False),
    Column("block", BigInteger, primary_key=True, autoincrement=False),
    Column("count", Integer, nullable=False),
    Column("min", Float, nullable=True),
    Column("max", Float, nullable=True),
    Column("last_iteration", BigInteger, nullable=False),
)

# -- datasets ------------------------------------------------------------------------------------
# A dataset version is a row; its manifest is one row per file (path → size, sha256); the bytes
# live once per sha256 in the byte store, and a `dataset_blobs` row exists only once those bytes
# are committed there and checked against their hash (so "which hashes are missing" is a query).
datasets = Table(
    "datasets",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id"), nullable=False),
    Column("name", String(1000), nullable=False),
    Column("version", String(100), nullable=False),
    Column("state", String(10), nullable=False),  # draft | final
    Column("description", Text, nullable=False, default=""),
    Column("user", String(200), nullable=False, default=""),
    Column("file_count", BigInteger, nullable=False, default=0),
    Column("total_size", BigInteger, nullable=False, default=0),
    Column("created", Float, nullable=False),
    Column("finalized", Float, nullable=True),
    UniqueConstraint("project_id", "name", "version"),
    Index(None, "project_id", "name", "state", "created"),
    Index(None, "created"),
)

dataset_parents = Table(
    "dataset_parents",
    metadata,
    Column("dataset_id", String(32), ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    Column("parent_id", String(32), ForeignKey("datasets.id"), primary_key=True),
    Column("position", Integer, nullable=False),
    Index(None, "parent_id"),
)

dataset_files = Table(
    "dataset_files",
    metadata,
    Column("dataset_id", String(32), ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Index(None, "dataset_id", "sha256"),
)

dataset_blobs = Table(
    "dataset_blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created", Float, nullable=False),
)

# A task's input datasets by alias (`Dataset.get(..., alias="train")` inside a running task).
task_datasets = Table(
    "task_datasets",
    metadata,
    Column("task_id", String(32), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("alias", String(200), primary_key=True),
    Column("dataset_id", String(32), ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("created", Float, nullable=False),
    Index(None, "dataset_id"),
)

# -- models ----------------------------------------------------------------------------------------
# A model is a row (its weights' bytes in the byte store under models/<id>/<sha256>); `task_id` is
# the task that made it and survives that task's deletion as NULL. `task_models` records which
# tasks made (role `output`) and used (role `input`) which models, so links show both ways.
models = Table(
    "models",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id"), nullable=False),
    Column("name", String(1000), nullable=False),
    Column("framework", String(100), nullable=False, default=""),
    Column("comment", Text, nullable=False, default=""),
    Column("task_id", String(32), ForeignKey("tasks.id", ondelete="SET NULL"), nullable=True),
    Column("user", String(200), nullable=False, default=""),
    Column("tags", Text, nullable=False, default="[]"),
    Column("labels", Text, nullable=False, default="{}"),
    Column("metadata", Text, nullable=False, default="{}"),
    Column("uri", Text, nullable=False, default=""),
    Column("filename", Text, nullable=False, default=""),
    Column("size", BigInteger, nullable=True),
    Column("sha256", String(64), nullable=True),
    Column("published", Boolean, nullable=False, default=False),
    Column("created", Float, nullable=False),
    Column("last_update", Float, nullable=False),
    Column("published_at", Float, nullable=True),
    Index(None, "created"),
    Index(None, "last_update"),
    Index(None, "project_id", "created"),
    Index(None, "name"),
    Index(None, "framework"),
    Index(None, "task_id"),
)

model_tags = Table(
    "model_tags",
    metadata,
    Column("model_id", String(32), ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(200), primary_key=True),
    Index(None, "tag", "model_id"),
)

task_models = Table(
    "task_models",
    metadata,
    Column("task_id", String(32), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(10), primary_key=True),  # input | output
    Column("model_id", String(32), ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(200), nullable=False, default=""),
    Column("created", Float, nullable=False),
    Index(None, "model_id", "role", "created"),
)

# -- queues and workers ----------------------------------------------------------------------------
# A queue entry exists exactly while its task is `queued`. Pop order: `priority` descending, then
# `rank` ascending (FIFO: a new entry's rank is the queue's largest plus one; moves renumber it).
queues = Table(
    "queues",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("created", Float, nullable=False),
)

queue_entries = Table(
    "queue_entries",
    metadata,
    Column("task_id", String(32), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("queue_id", String(32), ForeignKey("queues.id", ondelete="CASCADE"), nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("rank", BigInteger, nullable=False),
    Column("enqueued", Float, nullable=False),
    Index(None, "queue_id", "priority", "rank"),
)

# An agent's registration. `gone` rows stay (the list shows them) until pruned; a name is unique
# among active workers only (partial index), so an agent that restarts can take its name again.
workers = Table(
    "workers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("status", String(10), nullable=False),  # active | gone
    Column("user", String(200), nullable=False, default=""),
    Column("registered", Float, nullable=False),
    Column("last_heartbeat", Float, nullable=False),
    Column("current_task", String(32), nullable=True),
    Column("resources", Text, nullable=False, default="{}"),
    Column("usage", Text, nullable=True),
    Index("ux_workers_active_name", "name", unique=True,
          sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
    Index(None, "status", "last_heartbeat"),
)

# The queues a worker pulls, in its priority order.
worker_queues = Table(
    "worker_queues",
    metadata,
    Column("worker_id", String(32), ForeignKey("workers.id", ondelete="CASCADE"), primary_key=True),
    Column("queue_id", String(32), ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, nullable=False),
    Index(None, "queue_id"),
)
