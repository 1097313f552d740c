"""Dates of birth. A malformed date is missing evidence, never an error."""

from __future__ import annotations

import re
from datetime import date, datetime

import polars as pl

_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%Y%m%d", "%m-%d-%Y", "%Y/%m/%d")
"""Accepted spellings, tried in order. ISO first: the contract's own form."""

EARLIEST = date(1880, 1, 1)


def parse_dob(value: str | None, *, today: date | None = None) -> date | None:
    """The date a dob string denotes, or None when it is blank, malformed or implausible."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    latest = today or date.today()
    for fmt in _FORMATS:
        try:
            parsed = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        return parsed if EARLIEST <= parsed <= latest else None
    return None


def normalize_dob(column: str, *, today: date | None = None) -> pl.Expr:
    """Vectorised ``parse_dob``: a Date column, null where the value is not a plausible date."""
    text = pl.col(column).str.strip_chars()
    parsed = pl.coalesce([text.str.strptime(pl.Date, fmt, strict=False, exact=True) for fmt in _FORMATS])
    latest = today or date.today()
    return pl.when(parsed.is_between(EARLIEST, latest)).then(parsed).otherwise(None)


_DIGIT_LAYOUTS = (
    (r"^(\d{4})-(\d{2})-(\d{2})$", "${1}${2}${3}"),
    (r"^(\d{4})/(\d{2})/(\d{2})$", "${1}${2}${3}"),
    (r"^(\d{2})/(\d{2})/(\d{4})$", "${3}${1}${2}"),
    (r"^(\d{2})-(\d{2})-(\d{4})$", "${3}${1}${2}"),
    (r"^(\d{8})$", "${1}"),
)
"""The layouts of ``_FORMATS`` as (pattern, YYYYMMDD replacement)."""


def dob_digits(column: str, *, today: date | None = None) -> pl.Expr:
    """The eight digits YYYYMMDD of a dob written in an accepted layout, even when they are no
    valid date (1971-09-77, 1973-14-02): a typo in a date is still evidence, compared digit
    by digit. Null when the layout is not recognised or the year is implausible."""
    text = pl.col(column).cast(pl.Utf8).str.strip_chars()
    digits = pl.coalesce(
        [pl.when(text.str.contains(p)).then(text.str.replace(p, r)) for p, r in _DIGIT_LAYOUTS]
    )
    year = digits.str.slice(0, 4).cast(pl.Int32, strict=False)
    latest = (today or date.today()).year
    return pl.when(year.is_between(EARLIEST.year, latest)).then(digits)


# One plain (ASCII) dob on Python values, for small frames; held equal to ``normalize_dob`` and
# ``dob_digits`` by tests (tests/normalize/test_small_values.py). Only the five digit layouts
# are decided here; for anything else ``dob_values`` returns ``None`` and the caller uses
# the expressions (chrono's parser and Python's ``strptime`` differ on odd spellings).
_V_LAYOUTS = (
    (re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})"), (1, 2, 3)),
    (re.compile(r"([0-9]{4})/([0-9]{2})/([0-9]{2})"), (1, 2, 3)),
    (re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})"), (3, 1, 2)),
    (re.compile(r"([0-9]{2})-([0-9]{2})-([0-9]{4})"), (3, 1, 2)),
    (re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})"), (1, 2, 3)),
)
ASCII_SPACE = " \t\n\x0b\x0c\r"
"""The ASCII characters polars' ``strip_chars()`` strips (Unicode White_Space; not \\x1c-\\x1f)."""


def dob_values(value: str | None, *, today: date | None = None) -> tuple[date | None, str | None] | None:
    """(``normalize_dob``, ``dob_digits``) of one ASCII dob, or ``None`` when it is in none
    of the accepted digit layouts (the caller then uses the expressions)."""
    if value is None:
        return None, None
    text = value.strip(ASCII_SPACE)
    if not text:
        return None, None
    for pattern, (y, m, d) in _V_LAYOUTS:
        found = pattern.fullmatch(text)
        if found is not None:
            year, month, day = found.group(y), found.group(m), found.group(d)
            break
    else:
        return None
    latest = today or date.today()
    digits = year + month + day if EARLIEST.year <= int(year) <= latest.year else None
    try:
        parsed: date | None = date(int(year), int(month), int(day))
    except ValueError:
        parsed = None
    if parsed is not None and not EARLIEST <= parsed <= latest:
        parsed = None
    return parsed, digits
