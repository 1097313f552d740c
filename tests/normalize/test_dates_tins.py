from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from custodes.normalize.dates import dob_digits, normalize_dob, parse_dob
from custodes.normalize.tins import normalize_tin, normalize_tins

TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("1980-02-29", date(1980, 2, 29)),
        ("02/29/1980", date(1980, 2, 29)),
        ("19800229", date(1980, 2, 29)),
        ("1981-02-29", None),
        ("13/45/1980", None),
        ("unknown", None),
        ("", None),
        (None, None),
        ("1850-01-01", None),
        ("2030-01-01", None),
    ],
)
def test_malformed_or_implausible_dates_are_missing_not_errors(raw: str | None, parsed: date | None) -> None:
    assert parse_dob(raw, today=TODAY) == parsed
    vector = pl.DataFrame({"d": [raw]}, schema={"d": pl.Utf8}).select(normalize_dob("d", today=TODAY))
    assert vector.item() == parsed


@pytest.mark.parametrize(
    ("raw", "tin"),
    [
        ("123-45-6789", "123456789"),
        ("123 45 6789", "123456789"),
        ("123456789", "123456789"),
        ("12345678", None),
        ("12345678A", None),
        ("", None),
        (None, None),
    ],
)
def test_tins_are_nine_bare_digits(raw: str | None, tin: str | None) -> None:
    assert normalize_tin(raw) == tin
    vector = pl.DataFrame({"t": [raw]}, schema={"t": pl.Utf8}).select(normalize_tins("t"))
    assert vector.item() == tin


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("1971-09-77", "19710977"),
        ("1973-14-02", "19731402"),
        ("04/08/1946", "19460408"),
        ("19600614", "19600614"),
        ("1994-02-30", "19940230"),
        ("unknown", None),
        ("0000-01-01", None),
        (None, None),
    ],
)
def test_a_dob_that_is_no_date_still_keeps_its_digits(raw: str | None, digits: str | None) -> None:
    frame = pl.DataFrame({"dob": [raw]}, schema={"dob": pl.Utf8})
    assert frame.select(dob_digits("dob", today=TODAY)).item() == digits
