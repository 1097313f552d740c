"""Intake of request batches: every defect named by file, row and column; values pass through."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.contract import REQUEST_COLUMNS, read_master, read_requests
from custodes.contract.files import line_of_row
from custodes.contract.requests import clean, subjects_frame
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


def raises(path: Path) -> BatchFileError:
    with pytest.raises(BatchFileError) as caught:
        read_requests(path)
    assert str(path) in caught.value.render()
    assert caught.value.hint
    return caught.value


def test_quoted_commas_quotes_and_newlines_stay_inside_their_field(tmp_path: Path) -> None:
    path = write(
        tmp_path, HEADER + 'R1,Ana,,"O""Brien",,"12 Elm St\nApt 5",X,IL,1,\nR2,B,,C,,1 A St,X,IL,1,\n'
    )
    frame = read_requests(path)
    assert frame.get_column("last_name").to_list() == ['O"Brien', "C"]
    assert frame.get_column("street").to_list() == ["12 Elm St\nApt 5", "1 A St"]
    assert frame.get_column("row_number").to_list() == [1, 2]


def test_surrounding_whitespace_is_stripped_and_blank_cells_are_null(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + ' R1 ,  Ana ,   ,"  ",,1 A St,X,IL,1,\n')
    row = read_requests(path).row(0, named=True)
    assert (row["request_id"], row["first_name"], row["middle_name"], row["last_name"]) == (
        "R1",
        "Ana",
        None,
        None,
    )


def test_optional_columns_may_be_left_out(tmp_path: Path) -> None:
    path = write(
        tmp_path, "request_id,first_name,last_name,dob,street,city,state,zip\nR1,A,B,,1 A St,X,IL,1\n"
    )
    row = read_requests(path).row(0, named=True)
    assert row["middle_name"] is None
    assert row["tin"] is None
    assert row["case_reference"] is None


def test_a_missing_required_column_is_named(tmp_path: Path) -> None:
    error = raises(
        write(tmp_path, "request_id,first_name,last_name,dob,street,city,state\nR1,A,B,,1 A St,X,IL\n")
    )
    assert error.column == "zip"
    assert "zip" in error.render()
    assert "required" in error.render()


def test_an_unknown_extra_column_is_refused_with_the_accepted_list(tmp_path: Path) -> None:
    error = raises(write(tmp_path, HEADER.rstrip("\n") + ",notes\nR1,A,,B,,1 A St,X,IL,1,,hi\n"))
    assert error.column == "notes"
    assert "case_reference" in (error.hint or "")


def test_a_duplicated_header_column_is_named(tmp_path: Path) -> None:
    error = raises(write(tmp_path, HEADER.rstrip("\n") + ",zip\nR1,A,,B,,1 A St,X,IL,1,,2\n"))
    assert error.column == "zip"
    assert "more than once" in error.message


def test_a_blank_header_field_is_refused(tmp_path: Path) -> None:
    error = raises(write(tmp_path, HEADER.rstrip("\n") + ", \nR1,A,,B,,1 A St,X,IL,1,,\n"))
    assert "header field 11 is blank" in error.message


def test_a_blank_first_line_is_not_a_header(tmp_path: Path) -> None:
    error = raises(write(tmp_path, "\n" + HEADER + "R1,A,,B,,1 A St,X,IL,1,\n"))
    assert "no header" in error.message


@pytest.mark.parametrize(
    ("record", "column"),
    [("R2,A,,B,,1 A St,X,IL,1\n", "tin"), ("R2,A,,B,,1 A St,X,IL,1,,extra\n", None)],
    ids=["short", "long"],
)
def test_a_ragged_row_is_named_with_its_line(tmp_path: Path, record: str, column: str | None) -> None:
    path = write(tmp_path, HEADER + 'R1,A,,B,,"1 A St\nrear",X,IL,1,\n' + record)
    error = raises(path)
    assert error.row == 2
    assert error.column == column
    assert "(line 4)" in error.message  # the first record spans lines 2 and 3


def test_an_unclosed_quote_is_named_rather_than_swallowing_the_rows_after_it(tmp_path: Path) -> None:
    error = raises(
        write(tmp_path, HEADER + 'R1,A,,B,,1 A St,X,IL,1,\nR2,A,,"B,,1 A St,X,IL,1,\nR3,A,,B,,1,X,IL,1,\n')
    )
    assert error.row == 2
    assert "line 3" in error.message
    assert "RFC 4180" in (error.hint or "")


def test_a_record_too_large_to_parse_is_an_error(tmp_path: Path) -> None:
    error = raises(write(tmp_path, HEADER + "R1,A,,B,," + "x" * (3 << 20) + ",X,IL,1,\n"))
    assert "cannot be read as CSV" in error.message


def test_a_blank_request_id_names_row_and_column(tmp_path: Path) -> None:
    error = raises(write(tmp_path, HEADER + "R1,A,,B,,1 A St,X,IL,1,\n  ,A,,B,,1 A St,X,IL,1,\n"))
    assert (error.row, error.column) == (2, "request_id")
    assert "(line 3)" in error.message


def test_non_utf8_names_row_column_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER.encode() + b'R1,A,,B,,"1 A\nSt",X,IL,1,\nR2,A,,B,,1 Caf\xe9 St,X,IL,1,\n')
    error = raises(path)
    assert (error.row, error.column) == (2, "street")
    assert "line 4" in error.message
    assert "0xe9" in error.message


def test_non_utf8_in_the_header_names_no_row(tmp_path: Path) -> None:
    error = raises(write(tmp_path, b"request_id,first_nam\xe9\nR1,A\n"))
    assert error.row is None
    assert "UTF-8" in error.message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    error = raises(tmp_path / "absent.csv")
    assert "not found" in error.message


def test_parquet_columns_must_be_strings(tmp_path: Path) -> None:
    path = tmp_path / "requests.parquet"
    pl.DataFrame({c: ["x"] for c in REQUEST_COLUMNS if c != "tin"} | {"tin": [123456789]}).write_parquet(path)
    error = raises(path)
    assert error.column == "tin"
    assert "leading zeros" in (error.hint or "")


def test_parquet_may_hold_dob_as_a_date_and_categoricals(tmp_path: Path) -> None:
    path = tmp_path / "requests.parquet"
    pl.DataFrame({c: ["x"] for c in REQUEST_COLUMNS if c != "dob"}).with_columns(
        pl.date(1980, 1, 2).alias("dob"), pl.col("state").cast(pl.Categorical)
    ).write_parquet(path)
    row = read_requests(path).row(0, named=True)
    assert (row["dob"], row["state"]) == ("1980-01-02", "x")


def test_parquet_with_a_misspelt_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "requests.parquet"
    pl.DataFrame({c.replace("street", "stret"): ["x"] for c in REQUEST_COLUMNS}).write_parquet(path)
    assert raises(path).column == "stret"


def test_a_file_that_is_not_parquet_is_refused(tmp_path: Path) -> None:
    error = raises(write(tmp_path, "request_id\nR1\n", name="requests.parquet"))
    assert "Parquet" in error.message


def test_an_empty_parquet_batch_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "requests.parquet"
    pl.DataFrame(schema=dict.fromkeys(REQUEST_COLUMNS, pl.Utf8)).write_parquet(path)
    assert "no rows" in raises(path).message


def test_a_parquet_duplicate_request_id_names_both_rows_without_lines(tmp_path: Path) -> None:
    path = tmp_path / "requests.parquet"
    pl.DataFrame({c: ["R1", "R1"] for c in REQUEST_COLUMNS}).write_parquet(path)
    error = raises(path)
    assert "row 1" in error.message
    assert "row 2" in error.message
    assert "line" not in error.message


def test_line_of_row_counts_quoted_line_breaks_and_knows_its_rows() -> None:
    data = b'h\n"a\nb"\n\nc\n'
    assert [line_of_row(data, row) for row in (0, 1, 2)] == [1, 2, 5]
    with pytest.raises(ValueError, match="no row 3"):
        line_of_row(data, 3)


_SPACES = "".join(
    chr(c) for c in (0x9, 0xA, 0xB, 0xC, 0xD, 0x1C, 0x1F, 0x20, 0x85, 0xA0, 0x2007, 0x200B, 0x3000)
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(
                alphabet=st.sampled_from(_SPACES) | st.characters(exclude_categories=("Cs",)), max_size=8
            ),
        ),
        min_size=len(REQUEST_COLUMNS),
        max_size=len(REQUEST_COLUMNS),
    )
)
def test_online_subjects_are_cleaned_exactly_as_the_file_reader_cleans(values: list[str | None]) -> None:
    """``subjects_frame`` cleans on Python values; the frame ``clean`` (the file reader's) is the
    definition: the same strip (Unicode White_Space, not Python's wider ``str.strip``), blank null."""
    subject = dict(zip(REQUEST_COLUMNS, values, strict=True))
    got = subjects_frame([subject, subject])
    raw = pl.DataFrame(
        {c: [v, v] for c, v in subject.items()}, schema=dict.fromkeys(REQUEST_COLUMNS, pl.Utf8)
    )
    expected = raw.select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("row_number"),
        *(clean(c) for c in REQUEST_COLUMNS),
    )
    assert got.schema == expected.schema
    assert got.to_dicts() == expected.to_dicts()
