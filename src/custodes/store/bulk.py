"""Bulk inserts of a frame's rows into one table, inside the caller's transaction.

SQLAlchemy's ``conn.execute(insert(table), dicts)`` compiles and binds every row through
its parameter machinery: at 700,000 rows (a 100k batch's budget keys) that alone took
about 19 s of a 1M/100k ``verify``. Here the rows go to the driver directly: **COPY** on
PostgreSQL (psycopg adapts each value as it would a bound parameter), and the driver's
``executemany`` on SQLite with SQLAlchemy's own bind processors applied per column, so a
value is stored exactly as ``conn.execute(insert(...))`` would store it (a ``DateTime`` as
SQLAlchemy's SQLite string form, for instance) and reads back the same through the table's
types. Driver errors come out as SQLAlchemy's ``DBAPIError``, as from ``conn.execute``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from typing import Any

import polars as pl
from sqlalchemy import Column, Connection, Table
from sqlalchemy.exc import DBAPIError

CHUNK = 50_000
"""Rows turned into Python values at a time: bounded memory on large frames."""

SQLITE_CACHE_KIB = 262_144
"""SQLite page cache during a bulk insert: indexes on random keys get scattered inserts."""


class SqliteCache:
    """Raise SQLite's page cache for a bulk write, then restore the connection's setting."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._saved: object = None

    def __enter__(self) -> None:
        if self._conn.dialect.name == "sqlite":
            self._saved = self._conn.exec_driver_sql("PRAGMA cache_size").scalar()
            self._conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")

    def __exit__(self, *_: object) -> None:
        if self._saved is not None:
            self._conn.exec_driver_sql(f"PRAGMA cache_size={int(str(self._saved))}")


Processor = Callable[[Any], Any] | None


def _rows(frame: pl.DataFrame, processors: Sequence[Processor]) -> Iterator[tuple[Any, ...]]:
    for offset in range(0, frame.height, CHUNK):
        part = frame.slice(offset, CHUNK)
        if any(processors):
            columns = [
                part[name].to_list() if fn is None else [fn(v) for v in part[name].to_list()]
                for name, fn in zip(part.columns, processors, strict=True)
            ]
            yield from zip(*columns, strict=True)
        else:
            yield from part.iter_rows()


def bulk_insert(conn: Connection, table: Table, frame: pl.DataFrame) -> None:
    """Insert every row of ``frame`` (its columns named as ``table``'s) into ``table``.

    Rows go in primary-key order when the frame holds the whole key, so the key's B-tree is
    written page by page rather than at random; SQLite's page cache is raised meanwhile.
    """
    if frame.is_empty():
        return
    names = frame.columns
    columns = [table.c[name] for name in names]  # a KeyError names a column the table lacks
    key = [c.name for c in table.primary_key.columns]
    if key and set(key) <= set(names):
        frame = frame.sort(key)
    with SqliteCache(conn):
        _insert(conn, table, frame, columns)


def _insert(conn: Connection, table: Table, frame: pl.DataFrame, columns: list[Column[Any]]) -> None:
    names = frame.columns
    dialect = conn.dialect
    column_list = "(" + ", ".join(dialect.identifier_preparer.quote(n) for n in names) + ")"
    target = dialect.identifier_preparer.format_table(table)
    driver: Any = conn.connection.driver_connection
    dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
    if dialect.name == "postgresql":
        sql = f"COPY {target} {column_list} FROM STDIN"
        try:
            with driver.cursor() as cursor, cursor.copy(sql) as copy:
                for row in _rows(frame, [None] * len(names)):
                    copy.write_row(row)
        except dbapi_error as exc:
            raise DBAPIError.instance(sql, None, exc, dbapi_error) from exc
        return
    processors = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
    marks = ", ".join("?" if dialect.paramstyle == "qmark" else "%s" for _ in names)
    sql = f"INSERT INTO {target} {column_list} VALUES ({marks})"  # noqa: S608 - names from the table
    try:
        with closing(driver.cursor()) as cursor:
            cursor.executemany(sql, _rows(frame, processors))
    except dbapi_error as exc:
        raise DBAPIError.instance(sql, None, exc, dbapi_error) from exc
