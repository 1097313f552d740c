"""Taxpayer identification numbers: SSNs and ITINs as nine bare digits."""

from __future__ import annotations

import re

import polars as pl

_NON_DIGIT = re.compile(r"[\s-]")


def normalize_tin(value: str | None) -> str | None:
    """The nine digits of a TIN written with or without dashes and spaces, else None."""
    if value is None:
        return None
    digits = _NON_DIGIT.sub("", value)
    return digits if len(digits) == 9 and digits.isdigit() else None


def normalize_tins(column: str) -> pl.Expr:
    """Vectorised ``normalize_tin`` over a Utf8 column."""
    digits = pl.col(column).str.replace_all(r"[\s-]", "")
    return pl.when(digits.str.contains(r"^\d{9}$")).then(digits).otherwise(None)
