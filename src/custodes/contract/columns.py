"""The contract's column sets, and the header check every reader shares.

Column names are matched exactly (case and spelling). An unknown column is rejected rather
than ignored: a misspelt ``strret`` would otherwise be dropped and every row would arrive
without its street, which is a silent loss the contract forbids.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Sequence

import polars as pl

from custodes.errors import UserInputError

REQUEST_COLUMNS: tuple[str, ...] = (
    "request_id", "first_name", "middle_name", "last_name", "dob", "street", "city", "state",
    "zip", "tin", "case_reference",
)  # fmt: skip
"""Every column of a request batch, in the order readers return them."""

OPTIONAL_REQUEST_COLUMNS: tuple[str, ...] = ("middle_name", "tin", "case_reference")
"""Request columns a file may leave out; they are added as all-null."""

REQUIRED_REQUEST_COLUMNS: tuple[str, ...] = tuple(
    c for c in REQUEST_COLUMNS if c not in OPTIONAL_REQUEST_COLUMNS
)
"""Request columns a file must carry (their cells may still be blank)."""

MASTER_COLUMNS: tuple[str, ...] = (
    "tin", "first_name", "middle_name", "last_name", "dob", "street", "city", "state", "zip",
    "tax_year",
)  # fmt: skip
"""Every column of a master file, in the order ``read_master`` returns them."""

OPTIONAL_MASTER_COLUMNS: tuple[str, ...] = ("middle_name",)
"""Master columns a file may leave out; added as all-null."""

REQUIRED_MASTER_COLUMNS: tuple[str, ...] = tuple(
    c for c in MASTER_COLUMNS if c not in OPTIONAL_MASTER_COLUMNS
)

DECISION_SCHEMA: dict[str, pl.DataType] = {
    "request_id": pl.Utf8(),
    "outcome": pl.Utf8(),
    "reason": pl.Utf8(),
    "tin": pl.Utf8(),
    "match_probability": pl.Float64(),
    "address_status": pl.Utf8(),
}
"""The decisions file: column -> type."""

DECISION_COLUMNS: tuple[str, ...] = tuple(DECISION_SCHEMA)

DISCLOSURE_PROFILES: tuple[str, ...] = ("verify_only", "address_of_record")
"""The manifest's ``disclosure_profile`` values; the first is the default."""


def check_header(
    found: Sequence[str],
    *,
    required: Sequence[str],
    optional: Sequence[str],
    file: str,
    error: type[UserInputError],
) -> None:
    """Raise ``error`` unless ``found`` holds every required column and only contract columns.

    A misspelt column is named with the closest contract column as the suggestion.
    """
    allowed = (*required, *optional)
    listing = ", ".join(allowed)
    for index, name in enumerate(found, start=1):
        if not name.strip():
            raise error(
                f"header field {index} is blank",
                file=file,
                hint=f"give every column a name; the accepted columns are: {listing}",
            )
    duplicated = [name for name, n in Counter(found).items() if n > 1]
    if duplicated:
        raise error(
            f"column {duplicated[0]!r} appears more than once in the header",
            file=file,
            column=duplicated[0],
            hint="keep one column of each name",
        )
    unknown = [name for name in found if name not in allowed]
    if unknown:
        name = unknown[0]
        missing = [c for c in allowed if c not in found]
        close = difflib.get_close_matches(name, missing or allowed, n=1, cutoff=0.6)
        others = (
            f" (and {len(unknown) - 1} more: {', '.join(map(repr, unknown[1:]))})" if len(unknown) > 1 else ""
        )
        if close:
            raise error(
                f"column {name!r} is not a contract column; did you mean {close[0]!r}?{others}",
                file=file,
                column=name,
                hint=f"rename {name!r} to {close[0]!r}; the accepted columns are: {listing}",
            )
        raise error(
            f"column {name!r} is not a contract column{others}",
            file=file,
            column=name,
            hint=f"remove it; the accepted columns are: {listing}",
        )
    missing_required = [c for c in required if c not in found]
    if missing_required:
        raise error(
            f"missing required column(s): {', '.join(missing_required)}",
            file=file,
            column=missing_required[0],
            hint=(
                f"add {', '.join(missing_required)} to the header (cells may be blank); "
                f"required columns: {', '.join(required)}; optional: {', '.join(optional)}"
            ),
        )
