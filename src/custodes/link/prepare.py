"""One normalised shape for master rows and request rows, so the same SQL compares both."""

from __future__ import annotations

from datetime import date

import polars as pl

from custodes.normalize.addresses import normalize_addresses
from custodes.normalize.dates import dob_digits, normalize_dob
from custodes.normalize.names import normalize_names, phonetic
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


def prepare_people(
    frame: pl.DataFrame, *, today: date | None = None, addresses_normalized: bool = False
) -> pl.DataFrame:
    """Add the comparable columns to a frame holding the contract's person fields (+ tin).

    With ``addresses_normalized`` the frame already carries ``normalize_addresses``'s columns
    (the master load normalises every address on file once, the address of record included).
    """
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
