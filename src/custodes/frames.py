"""Frame steps for the few rows of an online group, without polars' fixed costs.

Polars runs an eager ``select`` or ``with_columns`` through its lazy engine: some 0.05-0.2 ms
a step whatever the rows, which is most of what an online verification's small frames
cost; and a frame built from a dict of lists costs more than one built from its series.
Rows (dicts or tuples), on the other hand, polars turns into a frame faster than series
built one at a time from them (polars 2.1: a row of ``prepare_people``'s 25 columns, three of
them lists, 64 against 258 us; 8 rows 183 against 424 us), so ``frame_of_dicts`` and
``frame_of_rows`` hand the rows to polars. These give the same frames (tests/test_frames.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from polars._typing import PolarsDataType


def column_rows(frame: pl.DataFrame, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """``frame.select(columns).rows()``: the named columns' values, row by row."""
    return list(zip(*(frame.get_column(c).to_list() for c in columns), strict=True)) if columns else []


def with_series(frame: pl.DataFrame, *series: pl.Series) -> pl.DataFrame:
    """``frame.with_columns(series)``: each series replaces the column of its name in place, or
    is appended after the frame's columns (every series must have the frame's height)."""
    columns = {name: frame.get_column(name) for name in frame.columns}
    for s in series:
        if s.len() != frame.height:
            raise ValueError(f"series {s.name!r} has {s.len()} values for a frame of {frame.height} rows")
        columns[s.name] = s
    return pl.DataFrame(list(columns.values()))


ROWS_AT_MOST = 16
"""Up to this many rows ``frame_of`` hands polars rows, above it one series a column."""


def frame_of(columns: Mapping[str, Sequence[Any]], schema: Mapping[str, PolarsDataType]) -> pl.DataFrame:
    """``pl.DataFrame(columns, schema=schema)`` for columns named as in ``schema`` (all of one
    length). A few rows go to polars as rows; more are built one series at a time. Either
    costs about half of polars' own way from columns for the rows of an online group."""
    values = [columns[name] for name in schema]
    height = len(values[0]) if values else 0
    if height <= ROWS_AT_MOST:
        return pl.DataFrame(list(zip(*values, strict=True)), schema=schema, orient="row")
    return pl.DataFrame(
        [pl.Series(name, v, dtype=dtype) for (name, dtype), v in zip(schema.items(), values, strict=True)]
    )


def frame_of_rows(rows: Sequence[Sequence[Any]], schema: Mapping[str, PolarsDataType]) -> pl.DataFrame:
    """``pl.DataFrame(rows, schema=schema, orient="row")``, refusing a row of another width."""
    for row in rows:
        if len(row) != len(schema):
            raise ValueError(f"rows of {len(row)} values for a schema of {len(schema)} columns")
    return pl.DataFrame(rows, schema=schema, orient="row")


def frame_of_dicts(rows: Sequence[Mapping[str, Any]], schema: Mapping[str, PolarsDataType]) -> pl.DataFrame:
    """``pl.DataFrame(rows, schema=schema)`` of dicts (a column a dict lacks is null there; keys
    outside ``schema`` are left out)."""
    return pl.DataFrame(rows, schema=schema)
