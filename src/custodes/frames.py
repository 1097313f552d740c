"""Two eager frame steps without polars' query engine, for the few rows of an online group.

Polars runs an eager ``select`` or ``with_columns`` through its lazy engine: some 0.05-0.2 ms
a step whatever the rows, which is most of what an online verification's small frames
cost. These give the same results from the frame's own columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl


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
