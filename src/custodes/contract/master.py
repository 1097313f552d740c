"""Reading the custodian's master file lazily, so that 30 million rows never sit in memory twice.

The header (or the Parquet schema) is checked at once, then one streaming pass over ``tin``
and ``tax_year`` finds the first row that cannot be a taxpayer-year: a blank ``tin`` or a
``tax_year`` that is blank or not a whole number. A row with too few fields shows up here
too, as a blank ``tax_year``. A row with too many fields, or bytes that are not UTF-8,
are located by a second, slower pass that runs only when the first one fails.

``read_master_whole`` reads a master small enough to hold in memory once and checks its
rows on the frame, with the same errors.

Row numbers count records after the header, blank lines included (a blank line is skipped,
never an error). ``tin`` stays a string so that leading zeros survive; Parquet columns must
be strings already (``dob`` may be a date, ``tax_year`` an integer).
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from custodes.contract.columns import (
    MASTER_COLUMNS,
    OPTIONAL_MASTER_COLUMNS,
    REQUIRED_MASTER_COLUMNS,
    check_header,
)
from custodes.contract.files import file_kind, locate_bad_utf8, quoting_error, read_header_line
from custodes.contract.requests import clean
from custodes.errors import MasterFileError

_STRING_TYPES = (pl.Utf8, pl.Categorical, pl.Null)
_BLANK_ROW = pl.all_horizontal(pl.col(MASTER_COLUMNS).is_null())


def read_master(path: Path) -> pl.LazyFrame:
    """The master file at ``path`` as a LazyFrame of ``MASTER_COLUMNS``: strings, ``tax_year`` Int64.

    Raises ``MasterFileError`` naming the file, row and column of the first defect.
    """
    lazy = _cleaned(path)
    try:
        _check_rows(lazy, str(path))
    except pl.exceptions.ComputeError as exc:
        raise _locate(path, exc) from exc
    return _taxpayer_years(lazy)


def read_master_whole(path: Path) -> pl.DataFrame:
    """``read_master(path).collect()``, reading the file once instead of twice.

    The rows are checked in memory, after the file is read, rather than by a pass of their
    own over the file: for a master small enough to hold whole (the load holds masters of up
    to ``custodes.link.index.IN_MEMORY_ROWS`` rows). The same errors as ``read_master``
    (``tests/contract/test_master.py`` runs every error case through both).
    """
    lazy = _cleaned(path)
    try:
        frame = lazy.collect()
    except pl.exceptions.ComputeError as exc:
        raise _locate(path, exc) from exc
    _check_rows(frame.lazy(), str(path))
    return _taxpayer_years(frame.lazy()).collect()


def _cleaned(path: Path) -> pl.LazyFrame:
    """The file's contract columns, cleaned, every row (blank ones too); header and types checked."""
    file = str(path)
    if file_kind(path, MasterFileError) == "csv":
        header, has_rows = read_header_line(path, MasterFileError)
        _check_columns(header, file)
        if not has_rows:
            raise _empty(file)
        raw = pl.scan_csv(path, schema=dict.fromkeys(header, pl.Utf8), encoding="utf8")
    else:
        raw = _scan_parquet(path)
    present = raw.collect_schema().names()
    return raw.select(*(clean(c) if c in present else pl.lit(None, pl.Utf8).alias(c) for c in MASTER_COLUMNS))


def _taxpayer_years(lazy: pl.LazyFrame) -> pl.LazyFrame:
    return lazy.filter(~_BLANK_ROW).with_columns(pl.col("tax_year").cast(pl.Int64))


def _check_columns(names: list[str], file: str) -> None:
    check_header(
        names,
        required=REQUIRED_MASTER_COLUMNS,
        optional=OPTIONAL_MASTER_COLUMNS,
        file=file,
        error=MasterFileError,
    )


def _empty(file: str) -> MasterFileError:
    return MasterFileError(
        "the master file has a header but no rows",
        file=file,
        hint="load a master file with one row per taxpayer per tax year",
    )


def _scan_parquet(path: Path) -> pl.LazyFrame:
    file = str(path)
    lazy = pl.scan_parquet(path)
    try:
        schema = lazy.collect_schema()
        rows = lazy.select(pl.len()).collect().item()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise MasterFileError(
            f"cannot be read as Parquet: {exc}",
            file=file,
            hint="check that the file is a complete Parquet file, or load the master file as CSV",
        ) from exc
    _check_columns(schema.names(), file)
    for name, dtype in schema.items():
        fits = dtype in _STRING_TYPES or (
            (name == "dob" and dtype in (pl.Date, pl.Datetime)) or (name == "tax_year" and dtype.is_integer())
        )
        if not fits:
            raise MasterFileError(
                f"column {name!r} is {dtype}, not a string"
                + (" or an integer" if name == "tax_year" else ""),
                file=file,
                column=name,
                hint="store tin and zip as strings (numbers lose their leading zeros)",
            )
    if rows == 0:
        raise _empty(file)
    return lazy.with_columns(pl.all().cast(pl.Utf8))


def _check_rows(lazy: pl.LazyFrame, file: str) -> None:
    bad = (
        lazy.with_row_index("row", offset=1)
        .filter(
            ~_BLANK_ROW
            & (pl.col("tin").is_null() | pl.col("tax_year").cast(pl.Int64, strict=False).is_null())
        )
        .select("row", "tin", "tax_year")
        .head(1)
        .collect(engine="streaming")
    )
    if bad.height == 0:
        return
    row, tin, year = bad.row(0)
    if tin is None:
        raise MasterFileError(
            "tin is blank",
            file=file,
            row=row,
            column="tin",
            hint="every master row is one taxpayer's tax year: give its 9-digit TIN, or remove the row",
        )
    raise MasterFileError(
        f"tax_year {year!r} is not a whole number"
        if year is not None
        else "tax_year is blank (a short row?)",
        file=file,
        row=row,
        column="tax_year",
        hint="give the filing year as a whole number, e.g. 2024, and one field per header column",
    )


def _locate(path: Path, exc: pl.exceptions.ComputeError) -> MasterFileError:
    """The error to report when polars could not read the CSV: find where it broke."""
    file = str(path)
    with path.open("rb") as handle:
        bad = locate_bad_utf8(handle)
    if bad is not None:
        offset, line, byte = bad
        return MasterFileError(
            f"not UTF-8: byte 0x{byte:02x} at line {line} (byte offset {offset}) cannot be decoded",
            file=file,
            hint="save the file as UTF-8, then load it again",
        )
    with path.open(encoding="utf-8-sig", newline="") as text:
        broken = quoting_error(text, blank_lines_are_rows=True)
    if broken is not None:
        row, line, what = broken
        return MasterFileError(
            f"broken quoting in the record starting on line {line}: {what}",
            file=file,
            row=row or None,
            hint="enclose fields that hold commas, quotes or line breaks in double quotes (RFC 4180)",
        )
    with path.open(encoding="utf-8-sig", newline="") as text:
        reader = csv.reader(text)
        width = len(next(reader))
        for row, record in enumerate(reader, start=1):
            if record and len(record) != width:
                return MasterFileError(
                    f"record has {len(record)} fields but the header has {width} "
                    f"(it ends on line {reader.line_num})",
                    file=file,
                    row=row,
                    hint="give every row one field per header column, quoting fields that hold commas",
                )
    return MasterFileError(f"cannot be read as CSV: {exc}", file=file, hint="check the file against RFC 4180")


def master_rows_hint(path: Path) -> int | None:
    """About how many rows the master file at ``path`` has, cheaply (to size the load's chunks).

    Parquet: the row count in its metadata. CSV: the number of line breaks, an upper bound
    (a quoted line break or a blank line counts too). None when the file cannot be read;
    ``read_master`` reports why.
    """
    try:
        if file_kind(path, MasterFileError) == "parquet":
            return int(pl.scan_parquet(path).select(pl.len()).collect().item())
        with path.open("rb") as handle:
            return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b""))
    except (MasterFileError, OSError, pl.exceptions.PolarsError):
        return None
