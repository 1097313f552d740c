"""The matching index: the master file normalised, keyed and counted, in one DuckDB file.

Built by ``custodes master load``. It is written to a temporary file beside the target
and moved into place with an atomic rename, so a reader sees the old index or the new one,
never half of one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl

from custodes.link.blocking import address_keys, name_keys
from custodes.link.model import estimate_u
from custodes.link.prepare import prepare_people

Progress = Callable[[str], None]

PERSON_COLUMNS = (
    "tin", "first_tok", "first_std", "first_keys", "middle_std", "middle_init", "last_concat",
    "last_tokens", "suffix", "dob_d", "tin9", "house", "street_std", "unit", "zip5", "city_std",
    "state_std", "first_ph", "last_ph", "birth_year", "street_word", "addr_key", "tax_year",
    "first_name", "middle_name", "last_name", "street", "city", "state", "zip",
)  # fmt: skip

ADDRESS_COLUMNS = (
    "tin", "house", "street_std", "unit", "zip5", "city_std", "state_std", "street_word",
    "is_current", "last_year",
)  # fmt: skip


@dataclass(frozen=True)
class IndexSummary:
    """What a master load produced."""

    rows: int
    taxpayers: int
    addresses: int
    keys: int
    path: Path


def _addr_key() -> pl.Expr:
    return pl.concat_str(
        [pl.col("house").fill_null(""), pl.col("street_std"), pl.col("unit").fill_null(""),
         pl.col("zip5").fill_null("")],
        separator="|",
    )  # fmt: skip


def build_index(
    master: pl.DataFrame,
    target: Path,
    *,
    today: date | None = None,
    progress: Progress | None = None,
    seed: int = 0,
) -> IndexSummary:
    """Normalise ``master`` (contract columns) and write the matching index to ``target``."""
    say = progress or (lambda _msg: None)
    say("normalising names, dates and addresses")
    prep = prepare_people(master, today=today).with_columns(
        _addr_key().alias("addr_key"), pl.col("tin").alias("tin9")
    )
    say("choosing each taxpayer's address of record (latest tax year)")
    latest = prep.sort(["tin", "tax_year"]).group_by("tin", maintain_order=True).last()
    # a dob missing in the latest year is taken from any other year
    dobs = (
        prep.filter(pl.col("dob_d").is_not_null())
        .group_by("tin")
        .agg(pl.col("dob_d").sort_by("tax_year").last().alias("_dob"))
    )
    persons = (
        latest.join(dobs, on="tin", how="left")
        .with_columns(pl.coalesce("dob_d", "_dob").alias("dob_d"))
        .with_columns(pl.col("dob_d").dt.year().alias("birth_year"))
        .select(PERSON_COLUMNS)
    )
    addresses = (
        prep.filter(pl.col("street_std").is_not_null())
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
        .sort("tin", "last_year")
    )
    say("building blocking keys")
    # address keys carry the resident's name, so join addresses to the person's name
    addr_named = addresses.join(
        persons.select("tin", "first_tok", "first_keys", "last_tokens", "last_concat"), on="tin"
    )
    keys = pl.concat([name_keys(persons, "tin"), address_keys(addr_named, "tin")]).unique()
    counts = keys.group_by("key").len("n")
    say("estimating how often unrelated people agree (u-probabilities)")
    u = estimate_u(persons, addresses, seed=seed)
    tf = _term_frequencies(persons)

    tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    say("writing the index")
    con = duckdb.connect(str(tmp))
    try:
        for name, frame in (
            ("persons", persons), ("addresses", addresses), ("mkeys", keys),
            ("key_counts", counts), ("u_probabilities", u), *tf.items(),
        ):  # fmt: skip
            con.register("_frame", frame.to_arrow())
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _frame")
            con.unregister("_frame")
        con.execute("CREATE INDEX ix_persons_tin ON persons(tin)")
        con.execute(
            "CREATE TABLE meta AS SELECT ? AS taxpayers, ? AS rows, ? AS built_at",
            [persons.height, master.height, datetime.now(UTC).isoformat()],
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, target)
    return IndexSummary(
        rows=master.height,
        taxpayers=persons.height,
        addresses=addresses.height,
        keys=keys.height,
        path=target,
    )


def _term_frequencies(persons: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Share of taxpayers with each first name, surname and address of record."""
    n = persons.height
    return {
        "tf_first": persons.group_by("first_tok").len("n").with_columns((pl.col("n") / n).alias("tf")),
        "tf_last": persons.group_by("last_concat").len("n").with_columns((pl.col("n") / n).alias("tf")),
        "tf_addr": persons.group_by("addr_key").len("n").with_columns((pl.col("n") / n).alias("tf")),
    }
