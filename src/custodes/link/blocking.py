"""Blocking keys: which master persons are compared with a request at all.

Several independent keys are used so that no true match depends on one field being
clean: the TIN (whole, and two overlapping halves that survive a one-digit typo), names
with the date of birth, names with the birth year, phonetic names, and the address
(house number with ZIP5, or with street word and city, so a ZIP typo is survived). Both
sides produce keys with the same functions. Keys shared by more master persons than
``max_block_size`` are dropped (see ``docs/linkage.md`` for what that costs).
"""

from __future__ import annotations

import polars as pl

NAME_KEY_KINDS = ("T", "T5", "T4", "LD", "FD", "FLY", "PP")
ADDRESS_KEY_KINDS = ("AH", "AS", "AB", "NZ", "NC")


def _explode_key(frame: pl.DataFrame, id_col: str, kind: str, *parts: pl.Expr) -> pl.DataFrame:
    key = pl.concat_str([pl.lit(kind), *parts], separator="|")
    out = frame.select(pl.col(id_col), key.alias("key"))
    if out.schema["key"] == pl.List(pl.Utf8):
        out = out.explode("key")
    return out.drop_nulls("key")


def name_keys(frame: pl.DataFrame, id_col: str) -> pl.DataFrame:
    """Keys from identity fields: TIN, names, dob. One row per (id, key)."""
    dob = pl.col("dob_d").dt.strftime("%Y%m%d")
    year = pl.col("birth_year").cast(pl.Utf8)
    tin = pl.col("tin9")
    lasts = frame.select(
        id_col, "dob_d", "birth_year", "first_keys",
        pl.concat_list(pl.col("last_tokens"), pl.col("last_concat")).list.unique().alias("last_all"),
    ).explode("last_all")  # fmt: skip
    firsts = frame.select(id_col, "dob_d", "first_keys").explode("first_keys")
    first_last = lasts.explode("first_keys")
    parts = [
        _explode_key(frame, id_col, "T", tin),
        _explode_key(frame, id_col, "T5", tin.str.slice(0, 5)),
        _explode_key(frame, id_col, "T4", tin.str.slice(4, 5)),
        _explode_key(lasts, id_col, "LD", pl.col("last_all"), dob),
        _explode_key(firsts, id_col, "FD", pl.col("first_keys"), dob),
        _explode_key(first_last, id_col, "FLY", pl.col("first_keys"), pl.col("last_all"), year),
        _explode_key(frame, id_col, "PP", pl.col("last_ph"), pl.col("first_ph"), year),
    ]
    return pl.concat(parts).unique()


def address_keys(frame: pl.DataFrame, id_col: str) -> pl.DataFrame:
    """Keys from an address together with the name of who lives there."""
    lasts = frame.select(
        id_col, "zip5", "city_std", "first_tok", "first_keys",
        pl.concat_list(pl.col("last_tokens"), pl.col("last_concat")).list.unique().alias("last_all"),
    ).explode("last_all")  # fmt: skip
    parts = [
        _explode_key(frame, id_col, "AH", pl.col("house"), pl.col("zip5")),
        _explode_key(frame, id_col, "AS", pl.col("house"), pl.col("street_word"), pl.col("city_std")),
        _explode_key(
            frame.filter(pl.col("house").is_null()),
            id_col,
            "AB",
            pl.col("street_std"),
            pl.col("zip5"),
        ),
        _explode_key(
            lasts,
            id_col,
            "NZ",
            pl.col("last_all"),
            pl.col("first_tok").str.slice(0, 1),
            pl.col("zip5"),
        ),
        _explode_key(
            lasts.explode("first_keys"),
            id_col,
            "NC",
            pl.col("first_keys"),
            pl.col("last_all"),
            pl.col("city_std"),
        ),
    ]
    return pl.concat(parts).unique()
