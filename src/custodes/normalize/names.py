"""Personal names into comparable forms.

Rules beyond what nameparser and the ``nicknames`` dataset give us:

- **Transliteration**: accents and other scripts go to ASCII (anyascii), so José = JOSE.
- **Generational suffixes** (JR, SR, II, III, IV) are taken out of any name field into
  ``suffix``; they say which of two same-named relatives is meant.
- **Surnames** become a set of tokens without particles (DE, LA, DEL, Y, VAN, ...), so
  "García López", "Garcia-Lopez", "Lopez Garcia" and "Garcia y Lopez" share tokens, and a
  joined form without spaces, so "De La Cruz" = "Delacruz".
- **First names** get their nickname groups: the ``nicknames`` dataset for English names
  plus Spanish hypocorisms (Pepe/José, Paco/Francisco, ...) from ``data/hypocorisms.csv``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import jellyfish
import polars as pl
from anyascii import anyascii
from nicknames import NickNamer

SUFFIXES: frozenset[str] = frozenset({"JR", "SR", "II", "III", "IV", "2ND", "3RD"})
PARTICLES: frozenset[str] = frozenset(
    {"DE", "DEL", "LA", "LAS", "LOS", "Y", "E", "DA", "DAS", "DO", "DOS", "DI", "VAN", "VON",
     "DER", "DEN", "DU", "LE", "ST", "SAN", "SANTA", "MAC"}
)  # fmt: skip
"""Words that join or introduce surnames; they carry no identity of their own."""

PLACEHOLDER_NAMES: frozenset[str] = frozenset({"UNKNOWN", "FNU", "LNU", "NMN", "NONE", "NA", "N A"})
"""Values that stand for 'no name' (FNU/LNU: first/last name unknown; NMN: no middle name)."""


def standardize_name(value: str | None) -> str | None:
    """Upper-case ASCII letters and single spaces; hyphens split, apostrophes join."""
    if value is None:
        return None
    text = anyascii(value).upper().replace("'", "").replace("`", "")
    text = re.sub(r"[^A-Z]+", " ", text).strip()
    return text or None


@cache
def _hypocorisms() -> dict[str, frozenset[str]]:
    groups: dict[str, set[str]] = {}
    source = resources.files("custodes.normalize") / "data" / "hypocorisms.csv"
    with source.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            formal = standardize_name(row["formal"])
            short = standardize_name(row["short"])
            if formal and short:
                groups.setdefault(short, set()).add(formal)
    return {k: frozenset(v) for k, v in groups.items()}


@cache
def _nicknamer() -> NickNamer:
    return NickNamer()


KNOWN_NAME_MIN_TAXPAYERS = 3
"""A first name this many taxpayers hold is a real name, not somebody's misspelling."""


@cache
def dictionary_first_names() -> frozenset[str]:
    """Every given name the nickname dataset and the hypocorism table know (standardised)."""
    namer = _nicknamer()
    names = {standardize_name(n) for n in (*namer.canonical_lookup, *namer.nickname_lookup)}
    for short, formals in _hypocorisms().items():
        names.add(short)
        names.update(formals)
    return frozenset(n for n in names if n and " " not in n)


def known_first_names(counts: pl.DataFrame) -> pl.DataFrame:
    """The known given names (column ``first_tok``): the dictionary's, and every first name
    that at least ``KNOWN_NAME_MIN_TAXPAYERS`` taxpayers hold.

    ``counts`` has each ``first_tok`` on file and ``n``, the number of taxpayers holding it
    (the index's ``tf_first``). Two close spellings that are both known names (MARK, MARY)
    may be two people; when one of them is unknown (MSRY) it is a misspelling of the other.
    """
    common = counts.filter(
        pl.col("first_tok").is_not_null() & (pl.col("n") >= KNOWN_NAME_MIN_TAXPAYERS)
    ).get_column("first_tok")
    names = pl.concat([common.cast(pl.Utf8), pl.Series(sorted(dictionary_first_names()), dtype=pl.Utf8)])
    return pl.DataFrame({"first_tok": names}).unique().sort("first_tok")


@cache
def first_name_keys(first: str) -> frozenset[str]:
    """The name itself and every formal name it may be a nickname of (standardised)."""
    keys = {first}
    keys.update(c.upper() for c in _nicknamer().canonicals_of(first.lower()))
    keys.update(_hypocorisms().get(first, frozenset()))
    return frozenset(keys)


@cache
def phonetic(token: str) -> str:
    """A phonetic key for blocking on misspelt names (NYSIIS: good on Hispanic names too)."""
    return jellyfish.nysiis(token) if token else ""


NAME_COLUMNS = (
    "first_tok", "first_std", "middle_std", "middle_init", "last_std", "last_concat",
    "last_tokens", "suffix", "first_keys",
)  # fmt: skip


def _field_tokens(value: str) -> tuple[list[str], str | None]:
    """Tokens of one name field without generational suffixes, and the suffix if any."""
    tokens = (standardize_name(value) or "").split()
    suffixes = [t for t in tokens if t in SUFFIXES]
    kept = [t for t in tokens if t not in SUFFIXES]
    if " ".join(kept) in PLACEHOLDER_NAMES:
        kept = []
    return kept, (suffixes[-1] if suffixes else None)


def _first_parts(value: str) -> dict[str, Any]:
    tokens, suffix = _field_tokens(value)
    first = tokens[0] if tokens else None
    return {
        "first_tok": first,
        "first_std": " ".join(tokens) or None,
        "_f_rest": " ".join(tokens[1:]) or None,
        "_f_suffix": suffix,
        "first_keys": sorted(first_name_keys(first)) if first else [],
    }


def _middle_parts(value: str) -> dict[str, Any]:
    tokens, suffix = _field_tokens(value)
    return {"_m_std": " ".join(tokens) or None, "_m_suffix": suffix}


def _last_parts(value: str) -> dict[str, Any]:
    tokens, suffix = _field_tokens(value)
    surnames = [t for t in tokens if t not in PARTICLES and len(t) > 1]
    return {
        "last_std": " ".join(tokens) or None,
        "last_concat": "".join(tokens) or None,
        "last_tokens": sorted(set(surnames or tokens)),
        "_l_suffix": suffix,
    }


def _per_distinct(
    frame: pl.DataFrame, column: str, parts: Callable[[str], dict[str, Any]], schema: pl.Schema
) -> pl.DataFrame:
    values = frame.get_column(column).unique().drop_nulls().to_list()
    table = pl.DataFrame([parts(v) for v in values], schema=schema, orient="row")
    table = table.with_columns(pl.Series(column, values, dtype=pl.Utf8))
    # join the one key column, not the whole (wide) frame: the join then moves one column
    added = (
        frame.select(pl.col(column).cast(pl.Utf8))
        .join(table, on=column, how="left", maintain_order="left")
        .drop(column)
    )
    return frame.with_columns(pl.col(column).cast(pl.Utf8)).hstack(added)


_TEXT = pl.String()
_TEXTS = pl.List(pl.String())
_FIRST_SCHEMA = pl.Schema(
    {"first_tok": _TEXT, "first_std": _TEXT, "_f_rest": _TEXT, "_f_suffix": _TEXT, "first_keys": _TEXTS}
)
_MIDDLE_SCHEMA = pl.Schema({"_m_std": _TEXT, "_m_suffix": _TEXT})
_LAST_SCHEMA = pl.Schema({"last_std": _TEXT, "last_concat": _TEXT, "last_tokens": _TEXTS, "_l_suffix": _TEXT})


def normalize_names(frame: pl.DataFrame, first: str, middle: str, last: str) -> pl.DataFrame:
    """``frame`` with the standardised name columns (see ``NAME_COLUMNS``) added.

    Each field is parsed once per distinct value (a master file repeats names heavily);
    only the cross-field parts (suffix, middle names carried in the first-name field) are
    combined row by row.
    """
    out = _per_distinct(frame, first, _first_parts, _FIRST_SCHEMA)
    out = _per_distinct(out, middle, _middle_parts, _MIDDLE_SCHEMA)
    out = _per_distinct(out, last, _last_parts, _LAST_SCHEMA)
    middle_std = pl.concat_str([pl.col("_f_rest"), pl.col("_m_std")], separator=" ", ignore_nulls=True)
    return out.with_columns(
        pl.col("first_keys").fill_null([]),
        pl.col("last_tokens").fill_null([]),
        middle_std.replace("", None).alias("middle_std"),
        middle_std.replace("", None).str.slice(0, 1).alias("middle_init"),
        pl.coalesce("_l_suffix", "_f_suffix", "_m_suffix").alias("suffix"),
    ).drop("_f_rest", "_f_suffix", "_m_std", "_m_suffix", "_l_suffix")


_NO_FIRST: dict[str, Any] = {
    "first_tok": None, "first_std": None, "_f_rest": None, "_f_suffix": None, "first_keys": [],
}  # fmt: skip
_NO_MIDDLE: dict[str, Any] = {"_m_std": None, "_m_suffix": None}
_NO_LAST: dict[str, Any] = {"last_std": None, "last_concat": None, "last_tokens": [], "_l_suffix": None}


def name_values(first: str | None, middle: str | None, last: str | None) -> dict[str, Any]:
    """``normalize_names`` on one row of Python values: the ``NAME_COLUMNS``, in that order.

    The per-field parts are the same functions; the cross-field steps are written again
    here, held equal to the frame's by tests (tests/normalize/test_small_values.py).
    """
    f = _first_parts(first) if first is not None else _NO_FIRST
    m = _middle_parts(middle) if middle is not None else _NO_MIDDLE
    last_parts = _last_parts(last) if last is not None else _NO_LAST
    middle_std = " ".join(p for p in (f["_f_rest"], m["_m_std"]) if p is not None) or None
    suffix = last_parts["_l_suffix"] or f["_f_suffix"] or m["_m_suffix"]
    return {
        "first_tok": f["first_tok"],
        "first_std": f["first_std"],
        "middle_std": middle_std,
        "middle_init": middle_std[:1] if middle_std is not None else None,
        "last_std": last_parts["last_std"],
        "last_concat": last_parts["last_concat"],
        "last_tokens": last_parts["last_tokens"],
        "suffix": suffix,
        "first_keys": f["first_keys"],
    }


def split_name(first: str | None, middle: str | None, last: str | None) -> dict[str, Any]:
    """The standardised parts of one person's name (``normalize_names`` on one row)."""
    return name_values(first, middle, last)
