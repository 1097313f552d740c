"""The matching index: the master file normalised and arranged for blocking, in one DuckDB file.

Built by ``custodes master load``. It is written to a temporary file beside the target
and moved into place with an atomic rename, so a reader sees the old index or the new one,
never half of one.

Tables: ``persons`` (one row per taxpayer: the name and address of record, which is the
address on the latest tax_year row), ``addresses`` (every distinct address a taxpayer
filed from, flagged current or previous), ``surnames``, ``firstnames`` and
``surname_places`` (exploded keys for blocking), term frequencies, u-probabilities, meta,
and the ``online_*`` tables of ``custodes.link.online`` for single requests.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl

from custodes.link.blocking import RULES, oversized_keys_sql
from custodes.link.model import estimate_u
from custodes.link.online import write_online_tables
from custodes.link.prepare import first_key_rows, name_key_rows, prepare_people, surname_rows
from custodes.normalize.addresses import normalize_addresses

Progress = Callable[[str], None]

RAW_ADDRESS = ("street", "city", "state", "zip")
ADDRESS_COLUMNS = (
    "tin", "addr_key", "house", "street_std", "unit", "zip5", "city_std", "state_std",
    "street_word", "is_current", "last_year",
)  # fmt: skip


@dataclass(frozen=True)
class IndexSummary:
    """What a master load produced."""

    rows: int
    taxpayers: int
    addresses: int
    path: Path


def _addr_key() -> pl.Expr:
    return pl.concat_str(
        [
            pl.col("house").fill_null(""),
            pl.col("street_std"),
            pl.col("unit").fill_null(""),
            pl.col("zip5").fill_null(""),
        ],
        separator="|",
    )


def build_index(
    master: pl.DataFrame,
    target: Path,
    *,
    today: date | None = None,
    progress: Progress | None = None,
    seed: int = 0,
    max_block_size: int = 1000,
) -> IndexSummary:
    """Normalise ``master`` (contract columns) and write the matching index to ``target``."""
    say = progress or (lambda _msg: None)
    say("choosing each taxpayer's address of record (latest tax year)")
    by_year = master.sort("tax_year")
    latest = by_year.unique("tin", keep="last")
    # a dob missing in the latest year is taken from the latest year that has one
    dobs = (
        by_year.filter(pl.col("dob").is_not_null())
        .unique("tin", keep="last")
        .select("tin", pl.col("dob").alias("_dob"))
    )
    latest = latest.join(dobs, on="tin", how="left").with_columns(pl.coalesce("dob", "_dob").alias("dob"))

    say("normalising names, dates and addresses of record")
    persons = prepare_people(latest.drop("_dob"), today=today).with_columns(
        pl.col("tin").str.slice(0, 5).alias("tin_head"),
        pl.col("tin").str.slice(4, 5).alias("tin_tail"),
        _addr_key().alias("addr_key"),
    )

    say("normalising every address on file")
    # an address filed from in several years is one address: normalise each once
    distinct_filed = (
        by_year.filter(pl.col("street").is_not_null())
        .group_by("tin", *RAW_ADDRESS)
        .agg(pl.col("tax_year").max())
    )
    filed = normalize_addresses(
        distinct_filed,
        "street",
        "zip",
        "city",
    ).with_columns(
        pl.col("state").str.to_uppercase().str.strip_chars().alias("state_std"),
        pl.col("street_std").str.extract(r"([A-Z0-9]{2,})", 1).alias("street_word"),
        _addr_key().alias("addr_key"),
    )
    addresses = (
        filed.filter(pl.col("street_std").is_not_null())
        .group_by("tin", "addr_key")
        .agg(
            pl.col("house", "street_std", "unit", "zip5", "city_std", "state_std", "street_word")
            .sort_by("tax_year")
            .last(),
            pl.col("tax_year").max().alias("last_year"),
        )
        .join(persons.select("tin", pl.col("addr_key").alias("_cur")), on="tin")
        .with_columns((pl.col("addr_key") == pl.col("_cur")).alias("is_current"))
        .select(ADDRESS_COLUMNS)
    )

    say("arranging names and places for blocking")
    surnames = surname_rows(persons, "tin")
    firstnames = first_key_rows(persons, "tin")
    name_keys = name_key_rows(surnames).select("tin", "token", "fkey", "birth_year")
    surname_places = (
        addresses.select("tin", "zip5", "city_std")
        .join(persons.select("tin", "last_all", "initial", "first_keys"), on="tin")
        .explode("last_all")
        .rename({"last_all": "token"})
        .drop_nulls("token")
    )
    name_places = name_key_rows(surname_places).select("tin", "token", "fkey", "city_std").unique()
    surname_places = surname_places.select("tin", "token", "initial", "zip5").unique()

    say("estimating how often unrelated people agree (u-probabilities)")
    u = estimate_u(persons, addresses, seed=seed)
    tf = _term_frequencies(persons)

    say("writing the index")
    tables = {
        "persons": persons,
        "addresses": addresses,
        "surnames": surnames,
        "firstnames": firstnames,
        "name_keys": name_keys,
        "surname_places": surname_places,
        "name_places": name_places,
        "u_probabilities": u,
        **tf,
    }
    tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        for name, frame in tables.items():
            con.register("_frame", frame.to_arrow())
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _frame")
            con.unregister("_frame")
        for rule in RULES:
            con.execute(f"CREATE TABLE oversized_{rule.name} AS {oversized_keys_sql(rule, max_block_size)}")
        say("writing the online lookup tables (compound blocking keys)")
        write_online_tables(con)
        con.execute(
            "CREATE TABLE meta AS SELECT ?::BIGINT AS taxpayers, ?::BIGINT AS rows, ? AS built_at",
            [persons.height, master.height, datetime.now(UTC).isoformat()],
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, target)
    return IndexSummary(rows=master.height, taxpayers=persons.height, addresses=addresses.height, path=target)


def _term_frequencies(persons: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Share of taxpayers with each first name, surname and address of record."""
    n = persons.height

    def shares(column: str) -> pl.DataFrame:
        return persons.group_by(column).len("n").with_columns((pl.col("n") / n).alias("tf"))

    return {"tf_first": shares("first_tok"), "tf_last": shares("last_concat"), "tf_addr": shares("addr_key")}
