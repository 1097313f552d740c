"""The frame steps without polars' query engine give what polars' own steps give."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from custodes.frames import ROWS_AT_MOST, column_rows, frame_of, frame_of_dicts, frame_of_rows, with_series

FRAME = pl.DataFrame(
    {
        "a": [1, None, 3],
        "b": ["x", None, "ß"],
        "at": [datetime(2026, 1, 1, tzinfo=UTC), None, datetime(2026, 12, 7, 1, 2, 3, 4, tzinfo=UTC)],
        "p": [0.5, float("nan"), None],
        "ok": [True, None, False],
    }
)


@pytest.mark.parametrize("columns", [["a"], ["b", "a"], ["at", "p", "ok", "a"], list(FRAME.columns), []])
def test_column_rows_are_select_rows(columns: list[str]) -> None:
    expected = FRAME.select(columns).rows() if columns else []
    got = column_rows(FRAME, columns)
    assert repr(got) == repr(expected)  # NaN compares unequal to itself; the text shows it


def test_with_series_replaces_in_place_and_appends_as_with_columns_does() -> None:
    one = pl.Series("a", [7, 8, 9], dtype=pl.Int64)
    new = pl.Series("owner", [0, 1, 2], dtype=pl.Int64)
    assert_frame_equal(with_series(FRAME, one, new), FRAME.with_columns(one, new))
    assert_frame_equal(with_series(FRAME), FRAME)
    with pytest.raises(ValueError, match="2 values for a frame of 3 rows"):
        with_series(FRAME, pl.Series("c", [1, 2]))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.none() | st.integers(-(2**63), 2**63 - 1), st.none() | st.text()), max_size=5))
def test_any_small_frame(rows: list[tuple[int | None, str | None]]) -> None:
    frame = pl.DataFrame(rows, schema={"n": pl.Int64, "s": pl.String}, orient="row")
    assert column_rows(frame, ["s", "n"]) == frame.select("s", "n").rows()
    marks = pl.Series("n", [1] * frame.height, dtype=pl.Int64)
    assert_frame_equal(with_series(frame, marks), frame.with_columns(marks))


SCHEMA = {
    "n": pl.Int64, "s": pl.String, "f": pl.Float64, "b": pl.Boolean, "d": pl.Date,
    "t": pl.Datetime("us", "UTC"), "l": pl.List(pl.String), "i32": pl.Int32,
}  # fmt: skip
_ROW = st.fixed_dictionaries(
    {
        "n": st.none() | st.integers(-(2**63), 2**63 - 1),
        "s": st.none() | st.text(max_size=4),
        "f": st.none() | st.floats(allow_nan=True),
        "b": st.none() | st.booleans(),
        "d": st.none() | st.dates(),
        "t": st.none() | st.datetimes(timezones=st.just(UTC)),
        "l": st.none() | st.lists(st.none() | st.text(max_size=3), max_size=3),
        "i32": st.none() | st.integers(-(2**31), 2**31 - 1),
    }
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_ROW, max_size=5))
def test_frames_built_one_series_at_a_time_equal_polars_own(rows: list[dict[str, object]]) -> None:
    expected = pl.DataFrame(rows, schema=SCHEMA)
    assert_frame_equal(frame_of_dicts(rows, SCHEMA), expected)
    assert_frame_equal(frame_of({c: [r[c] for r in rows] for c in SCHEMA}, SCHEMA), expected)
    tuples = [tuple(r[c] for c in SCHEMA) for r in rows]
    assert_frame_equal(frame_of_rows(tuples, SCHEMA), pl.DataFrame(tuples, schema=SCHEMA, orient="row"))


def test_rows_of_the_wrong_width_are_refused() -> None:
    with pytest.raises(ValueError, match="2 values for a schema of 3 columns"):
        frame_of_rows([(1, "x")], {"a": pl.Int64, "b": pl.String, "c": pl.String})
    assert frame_of_rows([], {"a": pl.Int64}).schema == pl.Schema({"a": pl.Int64})


def test_a_dict_lacking_a_column_gives_null_there_and_other_keys_are_left_out() -> None:
    got = frame_of_dicts([{"a": 1, "z": 5}, {"b": "x"}], {"a": pl.Int64, "b": pl.String})
    assert got.schema == pl.Schema({"a": pl.Int64, "b": pl.String})
    assert got.to_dicts() == [{"a": 1, "b": None}, {"a": None, "b": "x"}]
    assert frame_of_dicts([], {"a": pl.Int64}).schema == pl.Schema({"a": pl.Int64})


@settings(max_examples=50, deadline=None)
@given(st.lists(_ROW, min_size=ROWS_AT_MOST - 1, max_size=3 * ROWS_AT_MOST))
def test_frames_of_columns_equal_polars_own_on_either_side_of_the_row_path(
    rows: list[dict[str, object]],
) -> None:
    columns = {c: [r[c] for r in rows] for c in SCHEMA}
    assert_frame_equal(frame_of(columns, SCHEMA), pl.DataFrame(columns, schema=SCHEMA))
