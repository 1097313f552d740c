"""The operational store: SQLAlchemy Core tables, owned by Alembic migrations.

SQLite (WAL) is the embedded default; PostgreSQL is production. Every store test runs
against both.
"""

from custodes.store.engine import connect, upgrade
from custodes.store.schema import metadata

__all__ = ["connect", "metadata", "upgrade"]
