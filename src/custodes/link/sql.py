"""Small helpers for running the engine's SQL on DuckDB."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import polars as pl


def query_frame(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> pl.DataFrame:
    """Run ``sql`` with bound ``params`` and return the whole result as a polars frame."""
    frame: pl.DataFrame = con.sql(sql, params=list(params)).pl()
    return frame


def table_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The names of the tables (and views) in the open database."""
    return {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
