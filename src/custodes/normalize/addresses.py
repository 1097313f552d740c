"""Street addresses into USPS Publication 28 forms, for comparison.

The abbreviation tables come from usaddress-scourgify (USPS Pub 28 street types,
directionals, occupancy designators). Every token of the street line is mapped, on both
sides, so "North Main Street Apartment 5" and "N Main St Apt 5" compare equal. The unit
designator itself is dropped ("APT 5", "#5", "UNIT 5" are one unit: "5"), because agencies
and filers use them interchangeably.
"""

from __future__ import annotations

import re

import polars as pl
from scourgify.address_constants import (
    DIRECTIONAL_REPLACEMENTS,
    OCCUPANCY_TYPE_ABBREVIATIONS,
    STREET_TYPE_ABBREVIATIONS,
)

_ORDINAL_WORDS = {
    "FIRST": "1ST", "SECOND": "2ND", "THIRD": "3RD", "FOURTH": "4TH", "FIFTH": "5TH",
    "SIXTH": "6TH", "SEVENTH": "7TH", "EIGHTH": "8TH", "NINTH": "9TH", "TENTH": "10TH",
}  # fmt: skip

TOKEN_MAP: dict[str, str] = {
    **STREET_TYPE_ABBREVIATIONS,
    **DIRECTIONAL_REPLACEMENTS,
    "NORTHEAST": "NE", "NORTHWEST": "NW", "SOUTHEAST": "SE", "SOUTHWEST": "SW",
    **_ORDINAL_WORDS,
    "POST": "PO", "P": "P", "BX": "BOX",
}  # fmt: skip
"""Token -> USPS standard form."""

UNIT_DESIGNATORS: frozenset[str] = frozenset(
    {*OCCUPANCY_TYPE_ABBREVIATIONS, *OCCUPANCY_TYPE_ABBREVIATIONS.values(), "#", "NO", "NUM"}
)
"""Words that introduce a secondary unit; what follows is the unit number."""

_UNIT_ALT = "|".join(sorted((re.escape(u) for u in UNIT_DESIGNATORS), key=len, reverse=True))

_HOUSE = r"(?:\d+ 1/2|\d+(?:-?[A-Z])?(?:-\d+[A-Z]?)?)"
_PARTS = (
    rf"^(?:(?P<house>{_HOUSE})\s+)?(?P<street>.*?)"
    rf"(?:\s+(?:{_UNIT_ALT})\s*(?P<unit>[A-Z0-9-]+))?$"
)


def _street_parts(street: pl.Expr) -> pl.Expr:
    text = (
        street.str.to_uppercase()
        .str.replace_all("#", " # ", literal=True)
        .str.replace_all(r"[^A-Z0-9#/ -]", " ")
        .str.replace_all(r"([A-Z]) ?- ?([A-Z])", "$1 $2")
        .str.replace_all(r"([A-Z]) ?- ?([A-Z])", "$1 $2")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )
    mapped = (
        text.str.split(" ")
        .list.eval(pl.element().replace(TOKEN_MAP))
        .list.join(" ")
        .str.replace(r"^(?:(?:P O|PO)(?: OFFICE)? BOX|POB)\b", "PO BOX")
    )
    return mapped.str.extract_groups(_PARTS)


def normalize_addresses(
    frame: pl.DataFrame, street: str, zip_code: str, city: str, prefix: str = ""
) -> pl.DataFrame:
    """``frame`` with house, street_std, unit, zip5 and city_std columns (names prefixed).

    The street line is split as house number, street name in USPS form, and unit; a blank
    part is null. Distinct street lines are processed once.
    """
    streets = frame.select(pl.col(street).unique()).filter(pl.col(street).is_not_null())
    parts = streets.with_columns(_street_parts(pl.col(street)).alias("_p")).select(
        street,
        pl.col("_p").struct.field("house").alias(f"{prefix}house"),
        pl.when(pl.col("_p").struct.field("street") != "")
        .then(pl.col("_p").struct.field("street"))
        .alias(f"{prefix}street_std"),
        pl.col("_p").struct.field("unit").str.strip_chars("#-").alias(f"{prefix}unit"),
    )
    digits = pl.col(zip_code).str.replace_all(r"[^0-9]", "")
    # a 4-digit (or 8-digit ZIP+4) value is a ZIP whose leading zero a spreadsheet dropped
    zip5 = (
        pl.when(digits.str.len_chars().is_in([4, 8]))
        .then(digits.str.zfill(digits.str.len_chars() + 1))
        .otherwise(digits)
        .str.slice(0, 5)
    )
    return frame.join(parts, on=street, how="left").with_columns(
        pl.when(zip5.str.len_chars() == 5).then(zip5).alias(f"{prefix}zip5"),
        pl.col(city)
        .str.to_uppercase()
        .str.replace_all(r"[^A-Z ]", " ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
        .alias(f"{prefix}city_std"),
    )


# The same steps on one plain (ASCII) street line; ``street_values`` is held equal to
# ``_street_parts`` by tests (tests/normalize/test_small_values.py).
_V_CLEAN = re.compile(r"[^A-Z0-9#/ -]")
_V_HYPHEN = re.compile(r"([A-Z]) ?- ?([A-Z])")
_V_SPACES = re.compile(r"\s+")
_V_PO_BOX = re.compile(r"^(?:(?:P O|PO)(?: OFFICE)? BOX|POB)\b")
_V_PARTS = re.compile(_PARTS)
_V_NOT_DIGIT = re.compile(r"[^0-9]")
_V_NOT_CITY = re.compile(r"[^A-Z ]")


def street_values(street: str) -> tuple[str | None, str | None, str | None]:
    """(house, street_std, unit) of one ASCII street line: ``normalize_addresses`` on Python values.

    Only for ASCII text: Python's and polars' case mappings and character classes agree
    there, and the callers send anything else through ``normalize_addresses``.
    """
    text = _V_CLEAN.sub(" ", street.upper().replace("#", " # "))
    text = _V_HYPHEN.sub(r"\1 \2", _V_HYPHEN.sub(r"\1 \2", text))
    text = _V_SPACES.sub(" ", text).strip(" ")
    mapped = _V_PO_BOX.sub("PO BOX", " ".join(TOKEN_MAP.get(t, t) for t in text.split(" ")), count=1)
    parts = _V_PARTS.match(mapped)
    if parts is None:  # pragma: no cover - every part of the pattern is optional
        return None, None, None
    unit = parts.group("unit")
    return parts.group("house"), parts.group("street") or None, unit.strip("#-") if unit is not None else None


def zip5_value(value: str) -> str | None:
    """``normalize_addresses``' zip5 of one ASCII value."""
    digits = _V_NOT_DIGIT.sub("", value)
    if len(digits) in {4, 8}:
        digits = digits.zfill(len(digits) + 1)
    digits = digits[:5]
    return digits if len(digits) == 5 else None


def city_value(value: str) -> str:
    """``normalize_addresses``' city_std of one ASCII value."""
    return _V_SPACES.sub(" ", _V_NOT_CITY.sub(" ", value.upper())).strip(" ")


def normalize_street(street: str | None) -> tuple[str | None, str | None, str | None]:
    """(house number, street name in USPS form, unit) of one street line."""
    row = normalize_addresses(
        pl.DataFrame({"s": [street], "z": [None], "c": [None]}, schema=dict.fromkeys("szc", pl.Utf8)),
        "s",
        "z",
        "c",
    ).row(0, named=True)
    return row["house"], row["street_std"], row["unit"]
