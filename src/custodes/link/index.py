"""The matching index: the master file normalised and arranged for blocking.

Built by ``custodes master load``. The per-taxpayer tables are Parquet files in a new
build folder ``<index>.d/<build>/`` (one file per table per chunk of taxpayers); the
DuckDB file ``<index>`` holds views over them and the small tables that span every
taxpayer. The DuckDB file is written under a temporary name and moved into place with an
atomic rename, so a reader sees the old index or the new one, never half of one; the
previous build's folder is kept for readers that still have the old index open, older
ones are removed. Writing Parquet costs a quarter of the CPU of DuckDB's own storage.

Tables: ``persons`` (one row per taxpayer: the name and address of record, which is the
address on the latest tax_year row), ``addresses`` (every distinct address a taxpayer
filed from, flagged current or previous), ``surnames``, ``firstnames`` and
``surname_places`` (exploded keys for blocking), term frequencies, oversized keys,
``known_first`` (the known given names), ``u_probabilities``, ``m_probabilities`` and
``meta``: everything ``custodes.link.model.load_parameters`` and the comparison SQL need;
and the ``online_*`` tables of ``custodes.link.online`` for single requests.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol

import duckdb
import polars as pl

from custodes.link.blocking import RULES, oversized_keys_sql, same_index_keys
from custodes.link.features import pair_levels_sql
from custodes.link.model import m_frame, random_pairs, u_from_levels
from custodes.link.online import write_online_tables
from custodes.link.prepare import first_key_rows, name_key_rows, prepare_people, surname_rows
from custodes.link.sql import query_frame
from custodes.normalize.addresses import normalize_addresses
from custodes.normalize.names import known_first_names


class LoadProgress(Protocol):
    """Where ``build_index`` reports each step; ``total`` says how many steps there will be."""

    def __call__(self, message: str, /, total: int | None = None) -> None: ...


def _quiet(message: str, /, total: int | None = None) -> None:
    del message, total


RAW_ADDRESS = ("street", "city", "state", "zip")
ADDRESS_COLUMNS = (
    "tin", "addr_key", "house", "street_std", "unit", "zip5", "city_std", "state_std",
    "street_word", "is_current", "last_year",
)  # fmt: skip


TF_COLUMNS = {"tf_first": "first_tok", "tf_last": "last_concat", "tf_addr": "addr_key"}
"""Term-frequency tables: the share of taxpayers with each first name, surname and address of record."""


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


CHUNK_ROWS = 1_500_000
"""Master rows normalised at a time (about 450,000 taxpayers): bounds the load's memory."""
IN_MEMORY_ROWS = 4_000_000
"""Masters of up to this many rows are split in memory rather than through scratch Parquet.

A 1M-taxpayer master (3.3M rows) takes about 260 MB as one frame; reading it once and
filtering each chunk from it saves writing and reading back the scratch parts.
"""
PART_THREADS = 2
"""Chunks normalised at once (``_write_parts``)."""
DUCKDB_MEMORY_LIMIT = "2GB"
"""DuckDB's own memory while it writes the index; beyond it, joins and sorts spill to disk."""
BUILDS_SUFFIX = ".d"
"""The per-taxpayer tables live as Parquet beside the index file, in ``<index>.d/<build>/``."""
TAXPAYER_TABLES = (
    "persons", "addresses", "surnames", "firstnames", "name_keys", "surname_places", "name_places",
)  # fmt: skip
PART = "_part"
ROW = "_row"


def build_index(
    master: pl.DataFrame | pl.LazyFrame,
    target: Path,
    *,
    today: date | None = None,
    progress: LoadProgress | None = None,
    seed: int = 0,
    max_block_size: int = 1000,
    chunk_rows: int = CHUNK_ROWS,
    rows_hint: int | None = None,
) -> IndexSummary:
    """Normalise ``master`` (contract columns) and write the matching index to ``target``.

    Taxpayers are processed in chunks of about ``chunk_rows`` master rows, split by a hash
    of the TIN, so that every row of one taxpayer is in one chunk and memory does not grow
    with the file. What spans all taxpayers (term frequencies, oversized blocking keys,
    u-probabilities) is computed afterwards by DuckDB over the written tables, which
    spills to disk beyond ``DUCKDB_MEMORY_LIMIT``. The result does not depend on the
    chunking, but for the taxpayers' numbers (``pid``, given chunk after chunk): the u
    sample is drawn over taxpayers ordered by TIN. ``rows_hint`` (about
    how many rows ``master`` has, e.g. from Parquet metadata) only sets the number of
    chunks; without it a lazy ``master`` is counted first, which costs one more pass.
    """
    say = progress or _quiet
    lazy = master.lazy().with_row_index(ROW)
    tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
    builds = target.with_name(target.name + BUILDS_SUFFIX)
    build = builds / f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{os.getpid()}"
    work = builds / f".work-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    build.mkdir()
    done = False
    try:
        say("splitting the master rows by taxpayer")
        if rows_hint is None:
            rows_hint = master.height if isinstance(master, pl.DataFrame) else None
        if rows_hint is None:
            rows_hint = int(lazy.select(pl.len()).collect().item())
        chunks = _split(lazy, rows_hint, chunk_rows, work / "parts")
        say(f"about {rows_hint:,} master rows in {len(chunks)} part(s)", total=len(chunks) + 4)
        rows, taxpayers, addresses = _write_parts(chunks, build, today=today, say=say)
        del chunks  # an in-memory split holds the whole master
        say("term frequencies, oversized blocking keys and u-probabilities")
        con = duckdb.connect(str(tmp))
        try:
            con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
            con.execute("SET temp_directory = ?", [str(work / "spill")])
            # the caller's bar shows the stages; DuckDB's own would print into it (and into logs)
            con.execute("SET enable_progress_bar = false")
            for name in TAXPAYER_TABLES:
                con.execute(f"CREATE VIEW {name} AS SELECT * FROM {_parquet_source(build / name)}")
            _finish(con, taxpayers=taxpayers, rows=rows, seed=seed, max_block_size=max_block_size)
            say("writing the online lookup tables (compound blocking keys)")
            write_online_tables(con)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, target)
        done = True
    finally:
        tmp.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
        if not done:
            shutil.rmtree(build, ignore_errors=True)
    _prune(builds, keep=build)
    return IndexSummary(rows=rows, taxpayers=taxpayers, addresses=addresses, path=target)


def _parquet_source(folder: Path) -> str:
    """``read_parquet`` of every part file in ``folder`` (a path we made: quotes doubled all the same)."""
    pattern = str(folder / "*.parquet").replace("'", "''")
    return f"read_parquet('{pattern}', union_by_name = true)"


def _prune(builds: Path, *, keep: Path) -> None:
    """Remove the builds older than the previous one: a reader may still hold the previous index."""
    older = sorted(p for p in builds.iterdir() if p.is_dir() and not p.name.startswith(".") and p != keep)
    for stale in older[:-1]:
        shutil.rmtree(stale, ignore_errors=True)


def _split(lazy: pl.LazyFrame, rows: int, chunk_rows: int, parts: Path) -> list[Callable[[], pl.DataFrame]]:
    """Loaders of the master split into chunks by a hash of the TIN (one chunk: in memory).

    A master of up to ``IN_MEMORY_ROWS`` rows is read once into memory and each chunk is
    filtered from it; a larger one is written out in parts (scratch Parquet) and read back
    one part at a time, so that its memory does not grow with the file.
    """
    count = max(1, -(-rows // max(chunk_rows, 1)))
    if count == 1:
        return [lazy.collect]
    key = (pl.col("tin").hash(seed=0) % count).alias(PART)
    if rows <= IN_MEMORY_ROWS:
        whole = lazy.with_columns(key).collect()
        return [functools.partial(_chunk_of, whole, number) for number in range(count)]
    # scratch, read back once: lz4 rather than polars' default zstd (1M master, 3.3M rows:
    # split and read back 2.8 against 3.2 s, 5.4 against 6.3 CPU-s, 133 against 91 MiB)
    lazy.sink_parquet(pl.PartitionBy(parts, key=key, include_key=False), mkdir=True, compression="lz4")
    found = sorted(p for p in parts.iterdir() if p.is_dir())
    return [functools.partial(pl.read_parquet, p) for p in found]


def _chunk_of(whole: pl.DataFrame, number: int) -> pl.DataFrame:
    return whole.filter(pl.col(PART) == number).drop(PART)


def _write_parts(
    chunks: list[Callable[[], pl.DataFrame]], build: Path, *, today: date | None, say: LoadProgress
) -> tuple[int, int, int]:
    """Normalise the chunks and write their tables into ``build``: (rows, taxpayers, addresses).

    Two chunks are normalised at a time, on two threads: much of it is polars and Parquet
    work that lets go of the GIL, and one chunk alone keeps about 1.7 of two cores busy.
    A chunk's taxpayers are numbered from the count of TINs in the chunks before it, which
    is known as soon as a chunk is read, so the numbering is the one a single thread gives.
    At most ``PART_THREADS`` chunks are in memory at once.
    """
    rows = taxpayers = addresses = 0
    pending: deque[tuple[Future[tuple[int, int]], int]] = deque()

    def settle() -> None:
        nonlocal addresses
        done, expected = pending.popleft()
        persons, found = done.result()
        if persons != expected:
            raise RuntimeError(f"a chunk gave {persons} taxpayers for {expected} distinct TINs")
        addresses += found

    with ThreadPoolExecutor(max_workers=PART_THREADS, thread_name_prefix="index-part") as pool:
        for number, chunk in enumerate(chunks, start=1):
            while len(pending) >= PART_THREADS:
                settle()
            say(f"normalising taxpayers, part {number} of {len(chunks)}")
            part = chunk()
            distinct = part.get_column("tin").n_unique()
            pending.append((pool.submit(_write_chunk, part, build, number, today, taxpayers), distinct))
            rows += part.height
            taxpayers += distinct
            del part
        while pending:
            settle()
    return rows, taxpayers, addresses


def _write_chunk(
    part: pl.DataFrame, build: Path, number: int, today: date | None, first_pid: int
) -> tuple[int, int]:
    """One chunk's tables, written as ``<table>/part-<number>.parquet``: (taxpayers, addresses)."""
    tables = _chunk_tables(part, today=today, first_pid=first_pid)
    for name, frame in tables.items():
        (build / name).mkdir(exist_ok=True)
        frame.write_parquet(build / name / f"part-{number:05d}.parquet", compression="lz4")
    return tables["persons"].height, tables["addresses"].height


def _chunk_tables(master: pl.DataFrame, *, today: date | None, first_pid: int) -> dict[str, pl.DataFrame]:
    """The per-taxpayer tables of the index for the taxpayers in ``master`` (all their rows).

    Every table carries ``pid``, the taxpayer's number in the index: ``first_pid`` onwards
    in this chunk, so that the chunks together number the taxpayers 0..N-1. The online
    tables are keyed by it (``custodes.link.online``) without a join on the TIN.
    """
    # the address of record is the latest tax year's; ties go to the later row of the file
    by_year = master.sort("tax_year", ROW).drop(ROW)
    position = pl.int_range(pl.len(), dtype=pl.Int64)
    last = by_year.select("tin", position.alias("_i")).group_by("tin").agg(pl.col("_i").max()).sort("_i")
    # a dob missing in the latest year is taken from the latest year that has one
    dobs = (
        by_year.select("tin", "dob", position.alias("_i"))
        .filter(pl.col("dob").is_not_null())
        .group_by("tin")
        .agg(pl.col("dob").sort_by("_i").last().alias("_dob"))
    )
    latest = (
        by_year[last.get_column("_i")]
        .join(dobs, on="tin", how="left", maintain_order="left")
        .with_columns(pl.coalesce("dob", "_dob").alias("dob"))
    )

    # every address on file is normalised once, the address of record included
    places = ["street", "zip", "city"]
    normalized = normalize_addresses(by_year.select(places).unique(), *places)
    persons = prepare_people(
        latest.drop("_dob").join(normalized, on=places, how="left", nulls_equal=True),
        today=today,
        addresses_normalized=True,
    ).with_columns(
        pl.col("tin").str.slice(0, 5).alias("tin_head"),
        pl.col("tin").str.slice(4, 5).alias("tin_tail"),
        _addr_key().alias("addr_key"),
        pl.int_range(first_pid, first_pid + pl.len(), dtype=pl.Int32).alias("pid"),
    )

    # an address filed from in several years is one address
    filed = (
        by_year.filter(pl.col("street").is_not_null())
        .group_by("tin", *RAW_ADDRESS)
        .agg(pl.col("tax_year").max())
        .join(normalized, on=places, how="left", nulls_equal=True)
        .with_columns(
            pl.col("state").str.to_uppercase().str.strip_chars().alias("state_std"),
            pl.col("street_std").str.extract(r"([A-Z0-9]{2,})", 1).alias("street_word"),
            _addr_key().alias("addr_key"),
        )
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
        .join(persons.select("tin", "pid", pl.col("addr_key").alias("_cur")), on="tin")
        .with_columns((pl.col("addr_key") == pl.col("_cur")).alias("is_current"))
        .select(*ADDRESS_COLUMNS, "pid")
    )

    surnames = surname_rows(persons, "tin", extra=("pid",))
    firstnames = first_key_rows(persons, "tin", extra=("pid",))
    name_keys = name_key_rows(surnames).select("tin", "token", "fkey", "birth_year", "pid")
    surname_places = (
        addresses.select("tin", "zip5", "city_std", "pid")
        .join(persons.select("tin", "last_all", "initial", "first_keys"), on="tin")
        .explode("last_all")
        .rename({"last_all": "token"})
        .drop_nulls("token")
    )
    name_places = name_key_rows(surname_places).select("tin", "token", "fkey", "city_std", "pid").unique()
    surname_places = surname_places.select("tin", "token", "initial", "zip5", "pid").unique()
    return {
        "persons": persons,
        "addresses": addresses,
        "surnames": surnames,
        "firstnames": firstnames,
        "name_keys": name_keys,
        "surname_places": surname_places,
        "name_places": name_places,
    }


def _finish(
    con: duckdb.DuckDBPyConnection, *, taxpayers: int, rows: int, seed: int, max_block_size: int
) -> None:
    """The tables that span every taxpayer, computed in DuckDB over the written ones."""
    for table, column in TF_COLUMNS.items():
        con.execute(
            f"CREATE TABLE {table} AS SELECT {column}, count(*)::UINTEGER AS n, "
            f"count(*) / ?::DOUBLE AS tf FROM persons GROUP BY {column}",
            [taxpayers],
        )
    for rule in RULES:
        same = same_index_keys(rule)
        source = (
            oversized_keys_sql(rule, max_block_size)
            if same is rule
            else f"SELECT * FROM oversized_{same.name}"
        )
        con.execute(f"CREATE TABLE oversized_{rule.name} AS {source}")
    # the known given names count taxpayers, so they come from the first-name frequencies;
    # u is measured with them, as every request is compared with them
    first_counts = query_frame(con, "SELECT first_tok, n FROM tf_first")
    _create_table(con, "known_first", known_first_names(first_counts))
    _create_table(con, "u_probabilities", _estimate_u(con, taxpayers, seed=seed))
    _create_table(con, "m_probabilities", m_frame())
    con.execute(
        "CREATE TABLE meta AS SELECT ?::BIGINT AS taxpayers, ?::BIGINT AS rows, ? AS built_at",
        [taxpayers, rows, datetime.now(UTC).isoformat()],
    )


def _create_table(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    """Store ``frame`` as the table ``name`` (a name from this module) in the index."""
    view = f"{name}_frame"
    con.register(view, frame.to_arrow())
    try:
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {view}")
    finally:
        con.unregister(view)


def _estimate_u(con: duckdb.DuckDBPyConnection, taxpayers: int, *, seed: int) -> pl.DataFrame:
    """u-probabilities from random pairs of distinct taxpayers, ordered by TIN (deterministic)."""
    left, right = random_pairs(taxpayers, seed=seed)
    con.register("u_draws", pl.DataFrame({"rid": left, "j": right}).to_arrow())
    try:
        con.execute(
            "CREATE TEMP TABLE u_pos AS "
            "SELECT tin, pid, (row_number() OVER (ORDER BY tin) - 1)::BIGINT AS pos FROM persons"
        )
        con.execute(
            "CREATE TEMP TABLE u_pairs AS SELECT d.rid, p.pid FROM u_draws d JOIN u_pos p ON p.pos = d.j"
        )
        con.execute(
            "CREATE TEMP TABLE u_req AS SELECT q.pos AS rid, m.* FROM persons m "
            "JOIN u_pos q ON q.tin = m.tin WHERE q.pos IN (SELECT rid FROM u_draws)"
        )
        levels = query_frame(con, pair_levels_sql("u_pairs", "u_req", "persons", "addresses"))
    finally:
        con.unregister("u_draws")
        for name in ("u_pos", "u_pairs", "u_req"):
            con.execute(f"DROP TABLE IF EXISTS {name}")
    return u_from_levels(levels)
