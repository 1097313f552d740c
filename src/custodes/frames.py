"""Frame steps for the few rows of an online group, without polars' fixed costs.

Polars runs an eager ``select`` or ``with_columns`` through its lazy engine: some 0.05-0.2 ms
a step whatever the rows, which is most of what an online verification's small frames
cost; and a frame built from a dict of lists costs about twice one built from its series.
These give the same frames (tests/test_frames.py).
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


def frame_of(columns: Mapping[str, Sequence[Any]], schema: Mapping[str, PolarsDataType]) -> pl.DataFrame:
    """``pl.DataFrame(columns, schema=schema)`` for columns named as in ``schema``, built one
    series at a time (about half the cost for the few rows of an online group)."""
    return pl.DataFrame([pl.Series(name, columns[name], dtype=dtype) for name, dtype in schema.items()])


def frame_of_rows(rows: Sequence[Sequence[Any]], schema: Mapping[str, PolarsDataType]) -> pl.DataFrame:
    """``pl.DataFrame(rows, schema=schema, orient="row")``, built one series at a time."""
    names = list(schema)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    if len(columns) != len(names):
        raise ValueError(f"rows of {len(columns)} values for a schema of {len(names)} columns")
    return frame_of(dict(zip(names, columns, strict=True)), schema)


def frame_of_dicts(rows: Sequence[Mapping[str, Any]], schema: Mapping[str, PolarsDataType]) -> pl.DataFrame:
    """``pl.DataFrame(rows, schema=schema)`` of dicts, built one series at a time (a column a
    dict lacks is null there; keys outside ``schema`` are left out)."""
    return frame_of({name: [row.get(name) for row in rows] for name in schema}, schema)
