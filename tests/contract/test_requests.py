"""Intake of request batches: every defect named by file, row and column; values pass through."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from custodes.contract import REQUEST_COLUMNS, read_master, read_requests
from custodes.errors import BatchFileError, MasterFileError

HEADER = "request_id,first_name,middle_name,last_name,dob,street,city,state,zip,tin\n"


def write(tmp_path: Path, text: str | bytes, name: str = "requests.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_csv_is_read_as_strings_with_row_numbers_and_blank_as_missing(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + 'R1,Ana,,"Reyes, Jr",13/45/1980,"12 Elm St, Apt 5",X,IL,00501,123\n')
    frame = read_requests(path)
    assert frame.columns == ["row_number", *REQUEST_COLUMNS]
    row = frame.row(0, named=True)
    assert row["row_number"] == 1
    assert row["middle_name"] is None
    assert row["last_name"] == "Reyes, Jr"
    assert row["dob"] == "13/45/1980"  # malformed values are not intake errors
    assert row["zip"] == "00501"  # leading zeros kept
    assert row["tin"] == "123"
    assert row["case_reference"] is None


def test_a_utf8_bom_and_crlf_line_endings_are_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, ("\ufeff" + HEADER + "R1,José,,Muñoz,,1 A St,X,IL,12345,\n").replace("\n", "\r\n"))
    frame = read_requests(path)
    assert frame.get_column("first_name").to_list() == ["José"]


def test_parquet_batches_read_the_same(tmp_path: Path) -> None:
    csv_path = write(tmp_path, HEADER + "R1,Ana,,Reyes,1980-01-01,1 A St,X,IL,12345,\n")
    parquet_path = tmp_path / "requests.parquet"
    pl.read_csv(csv_path, infer_schema=False).write_parquet(parquet_path)
    assert read_requests(parquet_path).equals(read_requests(csv_path))


def test_a_misspelt_column_is_named_with_the_closest_expected_one(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER.replace("first_name", "frist_name") + "R1,A,,B,,1 A St,X,IL,1,\n")
    with pytest.raises(BatchFileError) as caught:
        read_requests(path)
    text = caught.value.render()
    assert "frist_name" in text
    assert "first_name" in text
    assert str(path) in text


def test_duplicate_request_ids_name_both_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path, HEADER + "R1,A,,B,,1 A St,X,IL,1,\nR2,A,,B,,1 A St,X,IL,1,\nR1,C,,D,,1 A St,X,IL,1,\n"
    )
    with pytest.raises(BatchFileError) as caught:
        read_requests(path)
    assert caught.value.column == "request_id"
    assert "R1" in caught.value.render()
    assert "3" in caught.value.render()


def test_non_utf8_names_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER.encode() + b"R1,A,,B,,1 A St,X,IL,1,\nR2,Jos\xe9,,B,,1 A St,X,IL,1,\n")
    with pytest.raises(BatchFileError, match="UTF-8") as caught:
        read_requests(path)
    assert caught.value.row == 2


@pytest.mark.parametrize("text", ["", HEADER])
def test_an_empty_batch_is_an_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(BatchFileError, match=r"empty|no rows|no request"):
        read_requests(write(tmp_path, text))


def test_an_unknown_file_type_says_which_are_accepted(tmp_path: Path) -> None:
    with pytest.raises(BatchFileError, match="csv"):
        read_requests(write(tmp_path, "x", name="requests.xlsx"))


def test_master_parquet_may_store_dob_as_a_date(tmp_path: Path) -> None:
    path = tmp_path / "master.parquet"
    frame = pl.DataFrame(
        {
            "tin": ["123456789"],
            "first_name": ["A"],
            "middle_name": [None],
            "last_name": ["B"],
            "street": ["1 A St"],
            "city": ["X"],
            "state": ["IL"],
            "zip": ["12345"],
            "tax_year": [2024],
        },
        schema_overrides={"middle_name": pl.Utf8},
    ).with_columns(pl.date(1980, 1, 2).alias("dob"))
    frame.write_parquet(path)
    master = read_master(path).collect()
    assert master.get_column("dob").to_list() == ["1980-01-02"]


def test_master_with_a_non_integer_tax_year_names_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, "tin,first_name,middle_name,last_name,dob,street,city,state,zip,tax_year\n"
                 "123456789,A,,B,,1 A St,X,IL,12345,2024\n123456780,A,,B,,1 A St,X,IL,12345,twenty\n", name="master.csv")  # fmt: skip
    with pytest.raises(MasterFileError) as caught:
        read_master(path).collect()
    assert caught.value.column == "tax_year"
