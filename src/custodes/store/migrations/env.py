"""Alembic environment: runs custodes' migrations online against the configured URL."""

from __future__ import annotations

from alembic import context

from custodes.store.engine import connect
from custodes.store.schema import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url is not None
engine = connect(url)
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
