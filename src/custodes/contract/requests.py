"""Reading a request batch: the file is refused whole, or every row arrives.

Decisions documented here (they are part of the contract as custodes applies it):

- **Columns.** ``request_id, first_name, last_name, dob, street, city, state, zip`` must be in
  the header. ``middle_name``, ``tin`` and ``case_reference`` may be left out and are then
  all-null. Any other column is refused, naming the closest contract column, because a
  misspelt column would otherwise vanish silently.
- **Values** arrive as strings with surrounding whitespace stripped; a blank cell is null.
  Malformed values (a bad date, a short TIN, a blank street) are not file errors: the legal
  checks and the matcher judge them row by row.
- **Row numbers.** ``row_number`` is the 1-based data record after the header; blank lines
  are not records. Messages add the physical line where it differs.
- **Refused whole (``BatchFileError``, exit code 2):** an extension other than .csv/.parquet,
  no header, a header with no rows, a missing, misspelt, duplicated or unknown column, bytes
  that are not UTF-8, a record with the wrong number of fields, broken quoting, a blank or
  duplicate ``request_id``, and Parquet columns that are not strings (a TIN stored as an
  integer has lost its leading zeros).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from custodes.contract.columns import (
    OPTIONAL_REQUEST_COLUMNS,
    REQUEST_COLUMNS,
    REQUIRED_REQUEST_COLUMNS,
    check_header,
)
from custodes.contract.files import BOM, check_utf8, file_kind, line_of_row, parse_header, quoting_error
from custodes.errors import BatchFileError, UserInputError
from custodes.frames import frame_of

_QUOTING_HINT = (
    "enclose any field that holds a comma, a double quote or a line break in double quotes, "
    "and double the quotes inside it (RFC 4180)"
)

_DATE_TYPES = (pl.Date, pl.Datetime)


def read_requests(path: Path) -> pl.DataFrame:
    """The request batch at ``path`` as strings, plus an Int64 ``row_number`` (1-based).

    Columns are ``row_number`` then ``REQUEST_COLUMNS``. Raises ``BatchFileError`` when the
    file cannot be taken as a whole (see the module docstring).
    """
    file = str(path)
    if file_kind(path, BatchFileError) == "csv":
        data = path.read_bytes()
        if data.startswith(BOM):
            data = data[len(BOM) :]
        frame = _read_csv(data, file)
    else:
        data = None
        frame = read_parquet_strings(path, BatchFileError, date_columns=("dob",))
        check_header(
            frame.columns,
            required=REQUIRED_REQUEST_COLUMNS,
            optional=OPTIONAL_REQUEST_COLUMNS,
            file=file,
            error=BatchFileError,
        )
    return _validated(frame, file, data)


def _read_csv(data: bytes, file: str) -> pl.DataFrame:
    end = data.find(b"\n")
    first_line = data[: end if end >= 0 else len(data)]
    header = parse_header(first_line.decode("utf-8", errors="replace"), file=file, error=BatchFileError)
    check_utf8(data, header=header, file=file, error=BatchFileError)
    check_header(
        header,
        required=REQUIRED_REQUEST_COLUMNS,
        optional=OPTIONAL_REQUEST_COLUMNS,
        file=file,
        error=BatchFileError,
    )
    if data.count(b'"') % 2:
        _raise_quoting(data, file)
    ragged: list[pacsv.InvalidRow] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        ragged.append(row)
        return "error"

    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(use_threads=False, column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid_row),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as exc:
        if ragged:
            _raise_ragged(ragged[0], header, data, file)
        raise BatchFileError(f"cannot be read as CSV: {exc}", file=file, hint=_QUOTING_HINT) from exc
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _raise_quoting(data: bytes, file: str) -> None:
    found = quoting_error(io.StringIO(data.decode("utf-8"), newline=""), blank_lines_are_rows=False)
    row, line, what = found or (None, None, "a double quote is never closed")
    raise BatchFileError(
        f"broken quoting in the record starting on line {line}: {what}",
        file=file,
        row=row or None,
        hint=_QUOTING_HINT,
    )


def _raise_ragged(bad: pacsv.InvalidRow, header: list[str], data: bytes, file: str) -> None:
    row = bad.number - 1 if bad.number is not None else None
    line = f" (line {line_of_row(data, row)})" if row is not None else ""
    short = bad.actual_columns < bad.expected_columns
    raise BatchFileError(
        f"record{line} has {bad.actual_columns} fields but the header has {bad.expected_columns}",
        file=file,
        row=row,
        column=header[bad.actual_columns] if short else None,
        hint=("give every row one field per header column (leave a field empty, not out); " + _QUOTING_HINT),
    )


def read_parquet_strings(
    path: Path, error: type[UserInputError], *, date_columns: tuple[str, ...] = ()
) -> pl.DataFrame:
    """A Parquet file whose columns are all strings (dates allowed in ``date_columns``)."""
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise error(
            f"cannot be read as Parquet: {exc}",
            file=str(path),
            hint="check that the file is a complete Parquet file, or submit the batch as CSV",
        ) from exc
    for name, dtype in frame.schema.items():
        if dtype in (pl.Utf8, pl.Categorical, pl.Null) or isinstance(dtype, pl.Enum):
            continue
        if name in date_columns and isinstance(dtype, _DATE_TYPES):
            continue
        raise error(
            f"column {name!r} is {dtype}, not a string",
            file=str(path),
            column=name,
            hint="store every column as a string (a TIN or ZIP stored as a number loses its leading zeros)",
        )
    return frame.with_columns(pl.all().cast(pl.Utf8))


def clean(column: str) -> pl.Expr:
    """``column`` with surrounding whitespace stripped and blank cells null."""
    text = pl.col(column).cast(pl.Utf8).str.strip_chars()
    return pl.when(text.str.len_bytes() > 0).then(text).alias(column)


WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
"""What ``clean`` strips: Unicode's White_Space, as polars' ``strip_chars`` has it (Python's
``str.strip`` also strips U+001C..U+001F, which polars keeps)."""


def clean_value(value: object) -> str | None:
    """``clean`` on one Python value (an online subject's field): stripped, and None when blank."""
    if value is None:
        return None
    text = str(value).strip(WHITESPACE)
    return text or None


def _validated(frame: pl.DataFrame, file: str, data: bytes | None) -> pl.DataFrame:
    if frame.height == 0:
        raise BatchFileError(
            "the file has a header but no rows",
            file=file,
            hint="a batch needs at least one request; submit a file with one row per person",
        )
    out = frame.select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("row_number"),
        *(clean(c) if c in frame.columns else pl.lit(None, pl.Utf8).alias(c) for c in REQUEST_COLUMNS),
    )

    def line(row: int) -> str:
        return f" (line {line_of_row(data, row)})" if data is not None else ""

    ids = out["request_id"]
    if ids.null_count():
        row = int(out.filter(pl.col("request_id").is_null())["row_number"][0])
        raise BatchFileError(
            f"request_id is blank{line(row)}",
            file=file,
            row=row,
            column="request_id",
            hint="give every row a request_id that is unique within the batch",
        )
    if ids.n_unique() < out.height:
        dupes = out.filter(pl.col("request_id").is_duplicated()).select("row_number", "request_id")
        first_id = str(dupes["request_id"][0])
        rows = dupes.filter(pl.col("request_id") == first_id)["row_number"].head(2).to_list()
        raise BatchFileError(
            f"request_id {first_id!r} appears in row {rows[0]}{line(rows[0])} and again in "
            f"row {rows[1]}{line(rows[1])}",
            file=file,
            row=rows[1],
            column="request_id",
            hint="request_ids must be unique within a batch; renumber or remove the repeated row",
        )
    return out


def subject_problem(subject: Mapping[str, str | None]) -> BatchFileError | None:
    """Why one online subject cannot be a request row (a column the contract does not know, or a
    blank ``request_id``), or None when it can."""
    unknown = sorted(set(subject) - set(REQUEST_COLUMNS))
    if unknown:
        return BatchFileError(
            f"unknown request field(s) {unknown}",
            column=unknown[0],
            hint=f"use only the contract's request columns: {', '.join(REQUEST_COLUMNS)}",
        )
    request_id = subject.get("request_id")
    if request_id is None or not str(request_id).strip():
        return BatchFileError(
            "request_id is blank",
            file="request",
            row=1,
            column="request_id",
            hint="give every row a request_id that is unique within the batch",
        )
    return None


def subjects_frame(subjects: Sequence[Mapping[str, object]]) -> pl.DataFrame:
    """Online subjects as one request frame, rows in the given order, cleaned as ``read_requests`` cleans.

    Each subject must have passed ``subject_problem``. Their request_ids need not be unique:
    they come from different callers, and each is stored as its own one-row batch.
    """
    columns: dict[str, list[object]] = {"row_number": list(range(1, len(subjects) + 1))}
    for c in REQUEST_COLUMNS:
        columns[c] = [clean_value(s.get(c)) for s in subjects]
    return frame_of(columns, {"row_number": pl.Int64, **dict.fromkeys(REQUEST_COLUMNS, pl.Utf8)})


def subject_frame(subject: Mapping[str, str | None]) -> pl.DataFrame:
    """One request (online verification) as a one-row batch, exactly as ``read_requests`` returns it.

    Absent optional columns are blank; values are stripped and blank ones null. Raises
    ``BatchFileError`` for a blank ``request_id`` or a column the contract does not know.
    """
    problem = subject_problem(subject)
    if problem is not None:
        raise problem
    return subjects_frame([subject])
