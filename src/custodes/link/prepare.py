"""One normalised shape for master rows and request rows, so the same SQL compares both."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import polars as pl

from custodes.frames import frame_of_dicts
from custodes.normalize.addresses import city_value, normalize_addresses, street_values, zip5_value
from custodes.normalize.dates import ASCII_SPACE, dob_digits, dob_values, normalize_dob
from custodes.normalize.names import name_values, normalize_names, phonetic
from custodes.normalize.tins import normalize_tins

PERSON_FIELDS = ("first_name", "middle_name", "last_name", "dob", "street", "city", "state", "zip")

COMPARABLE_COLUMNS = (
    "first_tok", "first_std", "first_keys", "middle_std", "middle_init", "last_concat",
    "last_tokens", "suffix", "dob_d", "dob_s", "tin9", "house", "street_std", "unit", "zip5",
    "city_std", "state_std",
)  # fmt: skip
"""The columns every prepared frame carries; the comparison SQL reads only these."""


def _phonetic_column(frame: pl.DataFrame, source: str, target: str) -> pl.DataFrame:
    values = frame.select(pl.col(source).unique().drop_nulls())[source].to_list()
    table = pl.DataFrame(
        {source: values, target: [phonetic(v) for v in values]},
        schema={source: pl.Utf8, target: pl.Utf8},
    )
    return frame.join(table, on=source, how="left")


SMALL_ROWS = 64
"""Up to this many rows ``prepare_people`` works on Python values (``prepare_values``): an
online group is a handful of rows, where each polars step costs a fixed 20 us to 1 ms (a
regular expression is compiled on every call) and the whole frame pipeline about 11 ms."""

_PLAIN_FIELDS = ("dob", "street", "city", "state", "zip", "tin")
"""The fields ``_prepare_values`` reads as ASCII; a non-ASCII value sends the frame the frame way."""


def prepare_people(
    frame: pl.DataFrame, *, today: date | None = None, addresses_normalized: bool = False
) -> pl.DataFrame:
    """Add the comparable columns to a frame holding the contract's person fields (+ tin).

    With ``addresses_normalized`` the frame already carries ``normalize_addresses``'s columns
    (the master load normalises every address on file once, the address of record included).
    A small frame is prepared on Python values, to the same frame (held equal by tests).
    """
    if not addresses_normalized and frame.height <= SMALL_ROWS:
        small = prepare_values(frame, today=today)
        if small is not None:
            return small
    return prepare_frame(frame, today=today, addresses_normalized=addresses_normalized)


def prepare_frame(
    frame: pl.DataFrame, *, today: date | None = None, addresses_normalized: bool = False
) -> pl.DataFrame:
    """``prepare_people`` as frame operations: the definition, whatever the frame's size."""
    out = normalize_names(frame, "first_name", "middle_name", "last_name")
    if not addresses_normalized:
        out = normalize_addresses(out, "street", "zip", "city")
    out = out.with_columns(
        normalize_dob("dob", today=today).alias("dob_d"),
        normalize_tins("tin").alias("tin9"),
        pl.col("state").str.to_uppercase().str.strip_chars().alias("state_std"),
        pl.col("last_tokens").list.first().alias("last_main"),
    )
    out = _phonetic_column(out, "first_tok", "first_ph")
    out = _phonetic_column(out, "last_main", "last_ph")
    return out.with_columns(
        pl.col("dob_d").dt.year().alias("birth_year"),
        pl.coalesce(pl.col("dob_d").dt.strftime("%Y%m%d"), dob_digits("dob", today=today)).alias("dob_s"),
        pl.col("street_std").str.extract(r"([A-Z0-9]{2,})", 1).alias("street_word"),
        pl.col("first_tok").str.slice(0, 1).alias("initial"),
        pl.concat_list(
            pl.col("last_tokens"), pl.col("last_concat").fill_null(pl.col("last_tokens").list.first())
        )
        .list.drop_nulls()
        .list.unique()
        .alias("last_all"),
    )


_TEXT = pl.String()
_ADDED_SCHEMA = pl.Schema(
    {
        "first_tok": _TEXT, "first_std": _TEXT, "first_keys": pl.List(_TEXT),
        "last_std": _TEXT, "last_concat": _TEXT, "last_tokens": pl.List(_TEXT),
        "middle_std": _TEXT, "middle_init": _TEXT, "suffix": _TEXT, "house": _TEXT,
        "street_std": _TEXT, "unit": _TEXT, "zip5": _TEXT, "city_std": _TEXT,
        "dob_d": pl.Date(), "tin9": _TEXT, "state_std": _TEXT, "last_main": _TEXT,
        "first_ph": _TEXT, "last_ph": _TEXT, "birth_year": pl.Int32(), "dob_s": _TEXT,
        "street_word": _TEXT, "initial": _TEXT, "last_all": pl.List(_TEXT),
    }
)  # fmt: skip
"""The columns ``prepare_people`` adds, in its order."""

_TIN_SEPARATORS = re.compile(r"[ \t\n\x0b\x0c\r-]")
_TIN = re.compile(r"[0-9]{9}")
_STREET_WORD = re.compile(r"([A-Z0-9]{2,})")


def prepare_values(frame: pl.DataFrame, *, today: date | None) -> pl.DataFrame | None:
    """``prepare_people`` of a small frame computed row by row on Python values, or ``None``
    when a value is outside what the value path decides (non-ASCII address, dob, state, ZIP or
    TIN text; a dob in none of the digit layouts; a column that is not text)."""
    fields = {name: frame.get_column(name) for name in (*PERSON_FIELDS, "tin") if name in frame}
    if len(fields) != len(PERSON_FIELDS) + 1 or any(c.dtype != pl.String for c in fields.values()):
        return None
    if any(name in frame for name in _ADDED_SCHEMA):
        return None
    values = {name: column.to_list() for name, column in fields.items()}
    if any(v is not None and not v.isascii() for name in _PLAIN_FIELDS for v in values[name]):
        return None
    rows: list[dict[str, Any]] = []
    for i in range(frame.height):
        dob = dob_values(values["dob"][i], today=today)
        if dob is None:
            return None
        rows.append(_row_values({name: column[i] for name, column in values.items()}, dob))
    added = frame_of_dicts(rows, _ADDED_SCHEMA)
    return frame.hstack(added.get_columns())


def _row_values(row: dict[str, Any], dob: tuple[date | None, str | None]) -> dict[str, Any]:
    names = name_values(row["first_name"], row["middle_name"], row["last_name"])
    street = row["street"]
    house, street_std, unit = street_values(street) if street is not None else (None, None, None)
    tin = row["tin"]
    tin_digits = _TIN_SEPARATORS.sub("", tin) if tin is not None else None
    state = row["state"]
    tokens: list[str] = names["last_tokens"]
    last_main = tokens[0] if tokens else None
    first_tok = names["first_tok"]
    dob_d, digits = dob
    word = _STREET_WORD.search(street_std) if street_std is not None else None
    last_all = list(tokens)
    joined = names["last_concat"] if names["last_concat"] is not None else last_main
    if joined is not None and joined not in last_all:
        last_all.append(joined)
    return {
        **{name: names[name] for name in ("first_tok", "first_std", "first_keys", "last_std", "last_concat")},
        "last_tokens": tokens,
        **{name: names[name] for name in ("middle_std", "middle_init", "suffix")},
        "house": house,
        "street_std": street_std,
        "unit": unit,
        "zip5": zip5_value(row["zip"]) if row["zip"] is not None else None,
        "city_std": city_value(row["city"]) if row["city"] is not None else None,
        "dob_d": dob_d,
        "tin9": tin_digits if tin_digits is not None and _TIN.fullmatch(tin_digits) else None,
        "state_std": state.upper().strip(ASCII_SPACE) if state is not None else None,
        "last_main": last_main,
        "first_ph": phonetic(first_tok) if first_tok is not None else None,
        "last_ph": phonetic(last_main) if last_main is not None else None,
        "birth_year": dob_d.year if dob_d is not None else None,
        "dob_s": dob_d.strftime("%Y%m%d") if dob_d is not None else digits,
        "street_word": word.group(1) if word is not None else None,
        "initial": first_tok[:1] if first_tok is not None else None,
        "last_all": last_all,
    }


def surname_rows(people: pl.DataFrame, id_col: str, extra: tuple[str, ...] = ()) -> pl.DataFrame:
    """One row per (person, surname token or joined surname): the surname blocking table."""
    return (
        people.select(id_col, "last_all", "dob_d", "birth_year", "first_keys", "initial", *extra)
        .explode("last_all")
        .rename({"last_all": "token"})
        .drop_nulls("token")
    )


def name_key_rows(surnames: pl.DataFrame) -> pl.DataFrame:
    """Surname rows crossed with first-name keys: (id, token, fkey, ...)."""
    return surnames.explode("first_keys").rename({"first_keys": "fkey"}).drop_nulls("fkey")


def first_key_rows(people: pl.DataFrame, id_col: str, extra: tuple[str, ...] = ()) -> pl.DataFrame:
    """One row per (person, first-name key): the first-name blocking table."""
    return (
        people.select(id_col, "first_keys", "dob_d", *extra)
        .explode("first_keys")
        .rename({"first_keys": "fkey"})
        .drop_nulls("fkey")
    )
