"""Connections to the operational store, and schema upgrades through Alembic."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the single writer; FULL makes each commit durable.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


POOL_SIZE = 40
"""Connections an engine keeps open: as many as the service's worker threads (anyio's 40),
so that under load no request opens and closes a connection of its own. SQLAlchemy's
default (5, plus 10 opened and closed again beyond it) made connecting a tenth of the
service's CPU at 150 verifications a second (py-spy, 2026-12-04)."""
MAX_OVERFLOW = 20


def connect(url: str) -> Engine:
    """An engine for the store at ``url``; SQLite gets WAL, durable commits and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW)


WRITER_LOCK_SUFFIX = "-writer.lock"
"""Beside a SQLite store's file: the file whose lock ``writer_turn`` takes."""


@contextmanager
def writer_turn(engine: Engine) -> Iterator[None]:
    """Wait for this writer's turn at a SQLite store, across threads and processes.

    Hold it around a write transaction (``engine.begin()``) that other hot writers contend
    for, taken before the transaction begins and let go after it commits. SQLite itself
    makes a writer that finds the store locked poll: its busy handler sleeps 1, 2, 5, 10,
    15, 20, 25, ... ms between tries, so a writer can sleep for tens of milliseconds after
    the lock came free (strace of the service under load, 2026-12-07: 58 such waits in 10 s,
    many past 25 ms). An exclusive ``flock`` on ``<store>-writer.lock`` instead wakes the
    next writer as soon as the holder lets go. Writers that do not take it (a CLI command,
    say) still wait through SQLite's busy timeout as before, and cannot deadlock with those
    that do: the file is always locked before the store and let go after. PostgreSQL waits
    on its own locks without polling, and an in-memory store has one process: no-op there.
    """
    url = engine.url
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    fd = os.open(database + WRITER_LOCK_SUFFIX, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor lets go of the lock


def alembic_config(url: str) -> Config:
    """The Alembic configuration for custodes' migrations, pointed at ``url``."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("custodes.store") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Create or upgrade the store's schema to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str:
    """The schema revision this version of custodes needs."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:  # pragma: no cover - the package always ships its migrations
        raise RuntimeError("custodes' migrations are missing from the package")
    return head


def current_revision(engine: Engine) -> str | None:
    """The schema revision the store at ``engine`` is at (None: no custodes schema)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
