"""Reading the master file lazily: contract columns, string TINs, integer tax years, located errors."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from custodes.contract import MASTER_COLUMNS, master, read_master, read_master_whole
from custodes.errors import MasterFileError

HEADER = "tin,first_name,middle_name,last_name,dob,street,city,state,zip,tax_year\n"
ROW = "012345678,Ana,,Reyes,1980-01-02,1 A St,X,IL,00501,2024\n"


def write(tmp_path: Path, data: str | bytes, name: str = "master.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def error_for(path: Path) -> MasterFileError:
    """The error reading ``path`` gives, the same from ``read_master`` and ``read_master_whole``."""
    with pytest.raises(MasterFileError) as caught:
        read_master(path).collect()
    assert str(path) in caught.value.render()
    assert caught.value.hint
    with pytest.raises(MasterFileError) as whole:
        read_master_whole(path)
    assert whole.value.render() == caught.value.render()
    return caught.value


def test_a_csv_master_is_read_lazily_with_string_tins_and_integer_years(tmp_path: Path) -> None:
    lazy = read_master(write(tmp_path, "\ufeff" + HEADER + ROW + "\n" + ROW.replace("2024", " 2023 ")))
    assert isinstance(lazy, pl.LazyFrame)
    frame = lazy.collect()
    assert frame.columns == list(MASTER_COLUMNS)
    assert frame.schema["tax_year"] == pl.Int64
    assert frame.get_column("tin").to_list() == ["012345678", "012345678"]  # blank line skipped
    assert frame.get_column("tax_year").to_list() == [2024, 2023]
    assert frame.get_column("middle_name").to_list() == [None, None]


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_master_read_whole_is_the_lazy_one_collected(tmp_path: Path, kind: str) -> None:
    text = "\ufeff" + HEADER + ROW + "\n" + ROW.replace("2024", " 2023 ").replace("Ana", " Ana ")
    path = write(tmp_path, text)
    if kind == "parquet":
        path = tmp_path / "master.parquet"
        pl.read_csv(write(tmp_path, text), infer_schema=False).write_parquet(path)
    whole = read_master_whole(path)
    assert isinstance(whole, pl.DataFrame)
    assert whole.equals(read_master(path).collect())
    assert whole.height == 2


def test_middle_name_may_be_left_out(tmp_path: Path) -> None:
    header = HEADER.replace("middle_name,", "")
    frame = read_master(write(tmp_path, header + ROW.replace("Ana,,", "Ana,"))).collect()
    assert frame.get_column("middle_name").to_list() == [None]


@pytest.mark.parametrize(
    ("row", "column", "message"),
    [
        (ROW.replace("2024", "twenty"), "tax_year", "'twenty' is not a whole number"),
        (ROW.replace(",2024", ","), "tax_year", "blank"),
        (ROW.replace(",2024", ""), "tax_year", "short row"),
        (ROW.replace("012345678", " "), "tin", "tin is blank"),
    ],
    ids=["word", "blank", "short", "tin"],
)
def test_a_row_that_is_not_a_taxpayer_year_is_named(
    tmp_path: Path, row: str, column: str, message: str
) -> None:
    error = error_for(write(tmp_path, HEADER + ROW + row))
    assert (error.row, error.column) == (2, column)
    assert message in error.message


def test_a_misspelt_master_column_is_named(tmp_path: Path) -> None:
    error = error_for(write(tmp_path, HEADER.replace("tax_year", "taxyear") + ROW))
    assert error.column == "taxyear"
    assert "tax_year" in error.message


def test_a_header_without_rows_is_an_error(tmp_path: Path) -> None:
    assert "no rows" in error_for(write(tmp_path, HEADER)).message


def test_a_non_utf8_master_names_the_line(tmp_path: Path) -> None:
    error = error_for(
        write(tmp_path, (HEADER + ROW).encode() + b"012345679,Jos\xe9,,R,,1 A St,X,IL,1,2024\n")
    )
    assert "line 3" in error.message
    assert "0xe9" in error.message


def test_a_non_utf8_header_is_refused(tmp_path: Path) -> None:
    assert "header is not UTF-8" in error_for(write(tmp_path, b"tin,first_nam\xe9\n1,2\n")).message


def test_a_row_with_too_many_fields_is_named(tmp_path: Path) -> None:
    error = error_for(write(tmp_path, HEADER + ROW + '012345679,"A, B",,R,,1 A St,X,IL,1,2024,extra\n'))
    assert error.row == 2
    assert "11 fields" in error.message


@pytest.mark.parametrize(
    ("row", "line"),
    [('012345679,"A,,R,,1 A St,X,IL,1,2024\n', 4), ('012345679,"A"x,,R,,1 A St,X,IL,1,2024\n', 4)],
    ids=["unclosed", "text-after-closing-quote"],
)
def test_broken_quoting_names_row_and_line(tmp_path: Path, row: str, line: int) -> None:
    error = error_for(write(tmp_path, HEADER + ROW + "\n" + row))
    assert error.row == 3  # the blank line counts as a row of the master file
    assert f"line {line}" in error.message


def test_a_master_ending_inside_a_character_is_not_utf8(tmp_path: Path) -> None:
    error = error_for(write(tmp_path, (HEADER + ROW).encode() + b"012345679,Jos\xc3"))
    assert "0xc3" in error.message


def test_a_reader_failure_nothing_else_explains_is_reported_with_its_message(tmp_path: Path) -> None:
    error = master._locate(write(tmp_path, HEADER + ROW), pl.exceptions.ComputeError("the reader broke"))
    assert "the reader broke" in error.message


def test_a_parquet_master_keeps_tins_as_strings(tmp_path: Path) -> None:
    path = tmp_path / "master.parquet"
    pl.DataFrame({c: ["x"] for c in MASTER_COLUMNS if c != "tax_year"} | {"tax_year": [2024]}).write_parquet(
        path
    )
    frame = read_master(path).collect()
    assert frame.get_column("tax_year").to_list() == [2024]


def test_a_parquet_master_with_an_integer_tin_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.parquet"
    data = {c: ["x"] for c in MASTER_COLUMNS if c not in {"tin", "tax_year"}}
    pl.DataFrame(data | {"tin": [12345678], "tax_year": [2024]}).write_parquet(path)
    error = error_for(path)
    assert error.column == "tin"
    assert "leading zeros" in (error.hint or "")


def test_a_parquet_master_with_a_float_tax_year_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.parquet"
    pl.DataFrame(
        {c: ["x"] for c in MASTER_COLUMNS if c != "tax_year"} | {"tax_year": [2024.0]}
    ).write_parquet(path)
    assert "or an integer" in error_for(path).message


def test_an_empty_parquet_master_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "master.parquet"
    pl.DataFrame(schema=dict.fromkeys(MASTER_COLUMNS, pl.Utf8)).write_parquet(path)
    assert "no rows" in error_for(path).message


def test_a_corrupt_parquet_master_is_refused(tmp_path: Path) -> None:
    assert "Parquet" in error_for(write(tmp_path, "not parquet", name="master.parquet")).message


def test_an_unsupported_master_file_type_is_refused(tmp_path: Path) -> None:
    assert ".csv" in (error_for(write(tmp_path, "x", name="master.txt")).hint or "")
