"""Alembic environment: runs on the connection handed in by `labtrack.server.store.db.upgrade`."""

from __future__ import annotations

from alembic import context

from labtrack.server.store.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic` CLI use during development: -x url=sqlite:///...
    from sqlalchemy import create_engine

    from labtrack.server.store.db import normalize_url

    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///labtrack-dev.db")
    connection = create_engine(normalize_url(url)).connect()

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
