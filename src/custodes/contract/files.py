"""What the readers share: the file kind, the CSV header, and where a defect sits.

Row numbers in every message count data records after the header, from 1; blank lines are
not records. Where a record spans several physical lines (a quoted newline), the message
also gives the line on which the record starts.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, Literal

from custodes.errors import UserInputError

FileKind = Literal["csv", "parquet"]

ACCEPTED_SUFFIXES: dict[str, FileKind] = {".csv": "csv", ".parquet": "parquet"}

BOM = codecs.BOM_UTF8

_UTF8_HINT = "save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8'), then submit it again"
_CHUNK = 1 << 24


def file_kind(path: Path, error: type[UserInputError]) -> FileKind:
    """``csv`` or ``parquet`` by the file's extension; raise ``error`` for anything else."""
    kind = ACCEPTED_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise error(
            f"unsupported file type {path.suffix or '(no extension)'!r}",
            file=str(path),
            hint="give a .csv file (UTF-8, comma-separated, header row, RFC 4180 quoting) or a .parquet file",
        )
    if not path.is_file():
        raise error("file not found", file=str(path), hint="check the path")
    return kind


def parse_header(first_record: str, *, file: str, error: type[UserInputError]) -> list[str]:
    """The column names of a CSV header record, stripped of surrounding whitespace."""
    if not first_record.strip():
        raise error(
            "the file is empty or its first line is blank: there is no header row",
            file=file,
            hint="put the column names on the first line, e.g. request_id,first_name,...",
        )
    names = next(csv.reader(io.StringIO(first_record, newline="")))
    return [name.strip() for name in names]


def read_header_line(path: Path, error: type[UserInputError]) -> tuple[list[str], bool]:
    """The header of a CSV file on disk (read without loading the file), and whether it has data.

    The header must be one physical line.
    """
    with path.open("rb") as handle:
        raw = handle.readline(1 << 20)
        more = handle.read(1)
    if raw.startswith(BOM):
        raw = raw[len(BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"the header is not UTF-8 (byte 0x{raw[exc.start]:02x} at byte {exc.start} of line 1)",
            file=str(path),
            hint=_UTF8_HINT,
        ) from exc
    return parse_header(text, file=str(path), error=error), bool(more.strip())


def _record_position(prefix: str) -> tuple[int, int]:
    """(data row, 0-based field index) of the character that follows ``prefix``.

    Data row 0 is the header. A sentinel character stands in for the one that follows, so
    the CSV reader tells which record and field it falls in, quoted newlines included.
    """
    records = [r for r in csv.reader(io.StringIO(prefix + "X", newline="")) if r]
    return len(records) - 1, len(records[-1]) - 1


def check_utf8(data: bytes, *, header: list[str], file: str, error: type[UserInputError]) -> None:
    """Raise ``error`` naming the row, column and line of the first byte that is not UTF-8."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start
        line = data.count(b"\n", 0, offset) + 1
        row, field = _record_position(data[:offset].decode("utf-8"))
        column = header[field] if 0 <= field < len(header) else None
        raise error(
            f"not UTF-8: byte 0x{data[offset]:02x} at line {line} (byte offset {offset}) "
            "cannot be decoded; the file is probably in another encoding (e.g. Windows-1252)",
            file=file,
            row=row or None,
            column=column,
            hint=_UTF8_HINT,
        ) from exc


def locate_bad_utf8(handle: BinaryIO) -> tuple[int, int, int] | None:
    """(byte offset, line, bad byte) of the first undecodable byte of a large stream, or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    consumed = 0
    lines = 1
    while chunk := handle.read(_CHUNK):
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            pending = len(exc.object) - len(chunk)
            offset = consumed - pending + exc.start
            before = exc.object[: exc.start]
            return offset, lines + before.count(b"\n"), exc.object[exc.start]
        consumed += len(chunk)
        lines += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return consumed - len(exc.object) + exc.start, lines, exc.object[exc.start]
    return None


def quoting_error(lines: Iterable[str], *, blank_lines_are_rows: bool) -> tuple[int, int, str] | None:
    """(data row, line, what) of the first record whose quoting breaks RFC 4180, or None.

    Reads the CSV text strictly, so it is slow: run it only once a cheaper check has failed.
    """
    reader = csv.reader(lines, strict=True)
    records = -1
    start = 1
    try:
        for record in reader:
            records += bool(record) or blank_lines_are_rows
            start = reader.line_num + 1
    except csv.Error as exc:
        return records + 1, start, str(exc)
    return None


def line_of_row(data: bytes, row: int) -> int:
    """The line on which data row ``row`` starts (the header is line 1)."""
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    seen = -1
    start = 0
    for record in reader:
        if record:
            seen += 1
            if seen == row:
                return start + 1
        start = reader.line_num
    raise ValueError(f"the data holds no row {row}")
