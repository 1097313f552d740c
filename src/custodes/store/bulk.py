"""Bulk inserts of a frame's rows into one table, inside the caller's transaction.

SQLAlchemy's ``conn.execute(insert(table), dicts)`` compiles and binds every row through
its parameter machinery: at 700,000 rows (a 100k batch's budget keys) that alone took
about 19 s of a 1M/100k ``verify``. Here the rows go to the driver directly: **COPY** on
PostgreSQL (psycopg adapts each value as it would a bound parameter), and the driver's
``executemany`` on SQLite with SQLAlchemy's own bind processors applied per column, so a
value is stored exactly as ``conn.execute(insert(...))`` would store it (a ``DateTime`` as
SQLAlchemy's SQLite string form, for instance) and reads back the same through the table's
types. Driver errors come out as SQLAlchemy's ``DBAPIError``, as from ``conn.execute``.

On SQLite a narrow frame, whose varying columns are at most three and all integers or
text, goes in without any Python value per row: each chunk is written as one JSON text
by polars and expanded by SQLite's ``json_each`` inside a single ``INSERT ... SELECT``,
the columns that hold one value throughout being bound once (through their bind
processors). At 984,000 budget keys (two varying columns) that took 1.8 s against 3.0 s
for ``executemany``, with three 2.1 against 2.9 s and with four 3.0 s either way
(measured 2026-12-03). Wide frames keep ``executemany``: SQLite parses a row's JSON again
for every column it extracts, and the request rows (11 varying columns, 100,000 rows)
took 1.2-1.5 s that way against 0.5 s. Floats never take this path: SQLite's
decimal-to-double conversion of JSON text is not guaranteed to round exactly, and a
float must read back bit for bit.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
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

JSON_MIN_ROWS = 64
"""Below this many rows ``executemany`` is used: one JSON text is not worth writing."""
JSON_MAX_VARYING = 3
"""Above this many varying columns ``executemany`` is used (four broke even: module doc)."""
_JSON_DTYPES = frozenset({pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.String})
"""Types SQLite reads back from JSON exactly: integers within 64 bits, and text."""
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SQLITE_HAS_JSON = sqlite3.sqlite_version_info >= (3, 38, 0)
"""JSON functions are built into SQLite from 3.38; older builds may lack them."""


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
    Below ``JSON_MIN_ROWS`` rows (an online group's few rows) neither is worth its cost: a
    sort and three PRAGMA statements for a handful of inserts.
    """
    if frame.is_empty():
        return
    names = frame.columns
    columns = [table.c[name] for name in names]  # a KeyError names a column the table lacks
    if frame.height < JSON_MIN_ROWS:
        _insert(conn, table, frame, columns)
        return
    key = [c.name for c in table.primary_key.columns]
    if key and set(key) <= set(names):
        frame = frame.sort(key)
    with SqliteCache(conn):
        _insert(conn, table, frame, columns)


def insert_rows(conn: Connection, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert a few rows given as Python values (one tuple per row, in ``names``' order) into ``table``.

    ``bulk_insert``'s small-frame path without a frame: the online path builds its few rows
    as Python values, and a frame built only to be inserted costs more than the insert.
    Values are stored exactly as ``bulk_insert`` stores them.
    """
    if not rows:
        return
    columns = [table.c[name] for name in names]
    target, column_list = _target(conn, table, names)
    if conn.dialect.name == "postgresql":
        _copy(conn, target, column_list, rows)
        return
    processors = _processors(conn, columns)
    if any(processors):
        rows = [
            tuple(v if fn is None else fn(v) for v, fn in zip(row, processors, strict=True)) for row in rows
        ]
    _executemany(conn, target, column_list, len(names), rows)


def _target(conn: Connection, table: Table, names: Sequence[str]) -> tuple[str, str]:
    """The quoted table name and ``(column, ...)`` list of an insert into ``table``."""
    preparer = conn.dialect.identifier_preparer
    return preparer.format_table(table), "(" + ", ".join(preparer.quote(n) for n in names) + ")"


def _processors(conn: Connection, columns: Sequence[Column[Any]]) -> list[Processor]:
    dialect = conn.dialect
    return [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]


def _insert(conn: Connection, table: Table, frame: pl.DataFrame, columns: list[Column[Any]]) -> None:
    names = frame.columns
    target, column_list = _target(conn, table, names)
    if conn.dialect.name == "postgresql":
        _copy(conn, target, column_list, _rows(frame, [None] * len(names)))
        return
    processors = _processors(conn, columns)
    plan = _json_plan(frame, processors) if conn.dialect.name == "sqlite" else None
    if plan is not None:
        sql = f"INSERT INTO {target} {column_list} {_json_select(plan)}"
        dbapi_error: type[Exception] = conn.dialect.loaded_dbapi.Error
        try:
            _insert_json(conn.connection.driver_connection, sql, frame, plan)
        except dbapi_error as exc:
            raise DBAPIError.instance(sql, None, exc, dbapi_error) from exc
        return
    _executemany(conn, target, column_list, len(names), _rows(frame, processors))


def _copy(conn: Connection, target: str, column_list: str, rows: Iterable[Sequence[Any]]) -> None:
    """PostgreSQL's ``COPY ... FROM STDIN`` of the rows (psycopg adapts each value as a parameter)."""
    driver: Any = conn.connection.driver_connection
    dbapi_error: type[Exception] = conn.dialect.loaded_dbapi.Error
    sql = f"COPY {target} {column_list} FROM STDIN"
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except dbapi_error as exc:
        raise DBAPIError.instance(sql, None, exc, dbapi_error) from exc


def _executemany(conn: Connection, target: str, column_list: str, width: int, rows: Iterable[Any]) -> None:
    dialect = conn.dialect
    driver: Any = conn.connection.driver_connection
    dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
    marks = ", ".join("?" if dialect.paramstyle == "qmark" else "%s" for _ in range(width))
    sql = f"INSERT INTO {target} {column_list} VALUES ({marks})"  # noqa: S608 - names from the table
    try:
        with closing(driver.cursor()) as cursor:
            cursor.executemany(sql, rows)
    except dbapi_error as exc:
        raise DBAPIError.instance(sql, None, exc, dbapi_error) from exc


_Plan = list[tuple[str, Any]]
"""Per column: ``("json", name)`` read from each row's JSON, or ``("bound", value)`` bound once."""


def _constant(series: pl.Series) -> bool:
    nulls = series.null_count()
    return nulls == series.len() or (nulls == 0 and series.n_unique() == 1)


def _json_plan(frame: pl.DataFrame, processors: Sequence[Processor]) -> _Plan | None:
    """How to insert ``frame`` through ``json_each``, or None when rows must be bound one by one."""
    if not SQLITE_HAS_JSON or frame.height < JSON_MIN_ROWS:
        return None
    plan: _Plan = []
    for (name, series), fn in zip(frame.to_dict().items(), processors, strict=True):
        if _constant(series):
            value = series[0]
            plan.append(("bound", value if fn is None else fn(value)))
        elif fn is None and series.dtype in _JSON_DTYPES and _PLAIN_NAME.fullmatch(name):
            if series.dtype == pl.String and series.str.contains("\x00", literal=True).any():
                return None  # a NUL in JSON text is not kept by every SQLite build
            plan.append(("json", name))
        else:
            return None
    varying = sum(kind == "json" for kind, _ in plan)
    return plan if 0 < varying <= JSON_MAX_VARYING else None


def _json_select(plan: _Plan) -> str:
    """``SELECT`` of one row per element of a JSON array bound last (column names checked plain)."""
    values = ", ".join(
        "?" if kind == "bound" else f"json_extract(j.value, '$.{name}')" for kind, name in plan
    )
    return f"SELECT {values} FROM json_each(?) AS j"  # noqa: S608 - names from the table


def _insert_json(driver: Any, sql: str, frame: pl.DataFrame, plan: _Plan) -> None:
    bound = [what for kind, what in plan if kind == "bound"]
    varying = [what for kind, what in plan if kind == "json"]
    with closing(driver.cursor()) as cursor:
        for offset in range(0, frame.height, CHUNK):
            cursor.execute(sql, [*bound, frame.slice(offset, CHUNK).select(varying).write_json()])
