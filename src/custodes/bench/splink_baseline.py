"""The baseline a data team would run instead of custodes: Splink 5 on DuckDB.

Configured as issue 3 describes (the link_only / FEBRL4 demo style), and run as a data team
would run it: it refuses nothing, it sees every request.

- **Records linked.** ``link_only`` between the request batch and the master file. By
  default *every* master row (every tax year), after dropping rows that repeat a
  taxpayer's compared fields in another year; ``master_rows="record"`` links against the
  address-of-record rows only (the latest tax_year per TIN).
- **Cleaning** (what a data team does before Splink): names and street upper case with
  runs of spaces collapsed and punctuation dropped from the street; dob parsed from
  ISO, US (MM/DD/YYYY, MM-DD-YYYY) and YYYYMMDD spellings to YYYY-MM-DD (else missing);
  zip as its first five digits; TIN as bare digits; ``house`` (the leading number of the
  street line) for blocking only.
- **Comparisons.** ``NameComparison`` on first_name and on last_name with term-frequency
  adjustment; ``DateOfBirthComparison`` (string input, %Y-%m-%d, invalid dates as null);
  ``ExactMatch`` on zip; ``JaroWinklerAtThresholds`` on street (0.9, 0.7);
  ``LevenshteinAtThresholds`` on TIN (1, 2).
- **Blocking for predictions.** TIN; first + last name; last name + dob; first name + dob;
  zip + house number.
- **Training.** ``probability_two_random_records_match`` from the deterministic rules
  TIN and first + last name + dob at an assumed recall of 0.7; u by random sampling
  (``u_max_pairs`` pairs, seeded); m by expectation maximisation in two sessions, blocked
  on dob and on first + last name (each trains the comparisons its rule leaves free),
  without term frequencies, as in Splink's FEBRL4 example.
- **Prediction.** ``predict(threshold_match_probability=predict_threshold)``, then per
  request and TIN the best pair (a taxpayer has one row per year).
- **Decision.** *Plain* (the issue's setup): the top candidate with probability
  >= ``match_threshold`` (0.99) is a ``match``, anything else ``no_match``. *Margin*:
  the top TIN must also lead the runner-up TIN by ``margin_bits`` (8) of match weight,
  custodes' own ``margin``; a top candidate that passes the threshold but not the margin
  is ``ambiguous``. The margin is in match weight, not a cap on the runner-up's
  probability, because Splink's pairwise probabilities do not compete: a household
  member often scores >= 0.99 beside the right person (at 50k/5k seed 1, any cap on the
  runner-up's probability from 0.01 to 0.99 cut recall to 0.44-0.78). A runner-up below
  the predict threshold (0.05, about -4.2 bits) is always 8 bits behind a top candidate
  at >= 0.99 (6.6 bits or more).

``address_status`` of a Splink match is computed with custodes' own comparison
(``normalize_addresses`` on both sides and ``address_level_sql``): ``current`` when the
request's address is exactly the taxpayer's address of record, ``previous`` when exactly
an earlier one, else ``not_on_file``, so that address accuracy is comparable.

Run as ``python -m custodes.bench.splink_baseline MASTER REQUESTS OUT`` (the benchmark
runs it as a child process to measure its time and peak RSS). It writes
``OUT/decisions.parquet`` (plain), ``OUT/decisions-margin.parquet``, ``OUT/model.json``
(the trained Splink model) and ``OUT/run.json`` (phase timings and counts).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb
import polars as pl

from custodes.codes import AddressStatus, Outcome, Reason
from custodes.contract import read_master, read_requests
from custodes.link.comparisons import address_level_sql
from custodes.normalize.addresses import normalize_addresses

MasterRows = Literal["all", "record"]

DECISION_SCHEMA: dict[str, type[pl.DataType]] = {
    "request_id": pl.Utf8,
    "outcome": pl.Utf8,
    "reason": pl.Utf8,
    "tin": pl.Utf8,
    "match_probability": pl.Float64,
    "address_status": pl.Utf8,
}
"""The contract's decision columns, in order."""

_SPLINK_COLUMNS = ("unique_id", "first_name", "last_name", "dob", "zip", "street", "house", "tin")
_DOB_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%Y%m%d", "%Y/%m/%d")


@dataclass(frozen=True)
class SplinkConfig:
    """The knobs of the baseline; the defaults are the configuration the benchmark reports."""

    match_threshold: float = 0.99
    margin_bits: float = 8.0
    predict_threshold: float = 0.05
    master_rows: MasterRows = "all"
    u_max_pairs: float = 5e6
    deterministic_recall: float = 0.7
    seed: int = 1


# -- cleaning ------------------------------------------------------------------------------
def _blank_to_null(text: pl.Expr) -> pl.Expr:
    return pl.when(text.str.len_bytes() > 0).then(text)


def _name(column: str) -> pl.Expr:
    return _blank_to_null(
        pl.col(column).str.to_uppercase().str.replace_all(r"\s+", " ").str.strip_chars()
    ).alias(column)


def _dob(column: str) -> pl.Expr:
    text = pl.col(column).cast(pl.Utf8).str.strip_chars()
    parsed = pl.coalesce(text.str.strptime(pl.Date, fmt, strict=False) for fmt in _DOB_FORMATS)
    return parsed.dt.strftime("%Y-%m-%d").alias(column)


def clean_for_splink(frame: pl.DataFrame, unique_id: pl.Expr) -> pl.DataFrame:
    """The columns Splink compares, cleaned as a data team would (see the module doc)."""
    street = _blank_to_null(
        pl.col("street")
        .str.to_uppercase()
        .str.replace_all(r"[^A-Z0-9 ]", " ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )
    zip_digits = _blank_to_null(pl.col("zip").str.replace_all(r"[^0-9]", "").str.slice(0, 5))
    tin_digits = _blank_to_null(pl.col("tin").str.replace_all(r"[^0-9]", ""))
    return frame.select(
        unique_id.cast(pl.Utf8).alias("unique_id"),
        _name("first_name"),
        _name("last_name"),
        _dob("dob"),
        zip_digits.alias("zip"),
        street.alias("street"),
        street.str.extract(r"^([0-9]+)\b").alias("house"),
        tin_digits.alias("tin"),
    )


def master_for_splink(master: pl.DataFrame, rows: MasterRows) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(Splink's master records, unique_id -> tin) from the raw master rows."""
    source = master
    if rows == "record":
        source = master.filter(pl.col("tax_year") == pl.col("tax_year").max().over("tin"))
    cleaned = clean_for_splink(source.with_row_index("_row"), pl.format("m{}", pl.col("_row")))
    cleaned = cleaned.unique(subset=[c for c in _SPLINK_COLUMNS if c != "unique_id"], keep="first").sort(
        "unique_id"
    )
    return cleaned, cleaned.select("unique_id", "tin")


# -- Splink --------------------------------------------------------------------------------
def _settings(config: SplinkConfig) -> Any:
    import splink.comparison_library as cl  # noqa: PLC0415 - the optional bench extra
    from splink import SettingsCreator, block_on  # noqa: PLC0415

    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "dob", input_is_string=True, datetime_format="%Y-%m-%d", invalid_dates_as_null=True
            ),
            cl.ExactMatch("zip"),
            cl.JaroWinklerAtThresholds("street", [0.9, 0.7]),
            cl.LevenshteinAtThresholds("tin", [1, 2]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("tin"),
            block_on("first_name", "last_name"),
            block_on("last_name", "dob"),
            block_on("first_name", "dob"),
            block_on("zip", "house"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def splink_pairs(
    master: pl.DataFrame,
    requests: pl.DataFrame,
    config: SplinkConfig,
    *,
    model_path: Path | None = None,
    phase: Callable[[str], None] | None = None,
) -> pl.DataFrame:
    """Train Splink and predict: (request_id, master_id, match_weight, match_probability) pairs.

    ``master`` and ``requests`` are ``clean_for_splink`` frames (request unique_id is the
    request_id).
    """
    from splink import DuckDBAPI, Linker, block_on  # noqa: PLC0415 - the optional bench extra

    say = phase or (lambda _name: None)
    db_api = DuckDBAPI()
    tables = [
        db_api.register(master.to_arrow(), dataset_display_name="master", table_name="master"),
        db_api.register(requests.to_arrow(), dataset_display_name="requests", table_name="requests"),
    ]
    linker = Linker(tables, _settings(config), log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("tin"), block_on("first_name", "last_name", "dob")], recall=config.deterministic_recall
    )
    say("prior")
    linker.training.estimate_u_using_random_sampling(max_pairs=config.u_max_pairs, seed=config.seed)
    say("u")
    for rule in (block_on("dob"), block_on("first_name", "last_name")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )
    say("em")
    if model_path is not None:
        linker.misc.save_model_to_json(str(model_path), overwrite=True)
    predictions = linker.inference.predict(threshold_match_probability=config.predict_threshold)
    pairs: pl.DataFrame = (
        predictions.as_duckdbpyrelation()
        .select(
            "source_dataset_l, unique_id_l, source_dataset_r, unique_id_r, match_weight, match_probability"
        )
        .pl()
    )
    say("predict")
    left_is_request = pl.col("source_dataset_l") == "requests"
    return pairs.select(
        pl.when(left_is_request).then("unique_id_l").otherwise("unique_id_r").alias("request_id"),
        pl.when(left_is_request).then("unique_id_r").otherwise("unique_id_l").alias("master_id"),
        pl.col("match_weight").cast(pl.Float64),
        pl.col("match_probability").cast(pl.Float64),
    )


# -- decisions -----------------------------------------------------------------------------
def decide(
    pairs: pl.DataFrame, request_ids: pl.Series, config: SplinkConfig
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(plain, margin) decisions from (request_id, tin, match_weight, match_probability) pairs.

    A taxpayer's best pair stands for the taxpayer; ties are broken by TIN so that the run
    is deterministic. Candidates are ranked by match weight (probabilities round to 1.0
    beyond about 53 bits). Address status is left null (see ``with_address_status``).
    """
    per_tin = pairs.group_by("request_id", "tin").agg(
        pl.col("match_weight").max(), pl.col("match_probability").max()
    )
    ranked = per_tin.sort(["request_id", "match_weight", "tin"], descending=[False, True, False])
    top = ranked.group_by("request_id", maintain_order=True).agg(
        pl.col("tin").first().alias("top_tin"),
        pl.col("match_probability").first().alias("p1"),
        pl.col("match_weight").first().alias("w1"),
        pl.col("match_weight").slice(1, 1).first().alias("w2"),
    )
    everyone = pl.DataFrame({"request_id": request_ids.cast(pl.Utf8)}).join(top, on="request_id", how="left")
    passes = pl.col("p1") >= config.match_threshold
    no_match_reason = (
        pl.when(pl.col("p1").is_null())
        .then(pl.lit(Reason.NO_CANDIDATE.value))
        .otherwise(pl.lit(Reason.BELOW_THRESHOLD.value))
    )

    def frame(is_match: pl.Expr, rival: pl.Expr) -> pl.DataFrame:
        return everyone.select(
            "request_id",
            pl.when(is_match)
            .then(pl.lit(Outcome.MATCH.value))
            .when(rival)
            .then(pl.lit(Outcome.AMBIGUOUS.value))
            .otherwise(pl.lit(Outcome.NO_MATCH.value))
            .alias("outcome"),
            pl.when(is_match)
            .then(pl.lit(Reason.MATCHED.value))
            .when(rival)
            .then(pl.lit(Reason.SEVERAL_CANDIDATES.value))
            .otherwise(no_match_reason)
            .alias("reason"),
            pl.when(is_match).then(pl.col("top_tin")).alias("tin"),
            pl.col("p1").alias("match_probability"),
            pl.lit(None, pl.Utf8).alias("address_status"),
        )

    plain = frame(passes.fill_null(False), pl.lit(False))
    no_rival = pl.col("w2").is_null() | (pl.col("w1") - pl.col("w2") >= config.margin_bits)
    margin = frame((passes & no_rival).fill_null(False), (passes & ~no_rival).fill_null(False))
    return plain, margin


def with_address_status(
    decisions: pl.DataFrame, requests: pl.DataFrame, master: pl.DataFrame
) -> pl.DataFrame:
    """``decisions`` with address_status for each match, by custodes' own address comparison.

    ``requests`` and ``master`` are the raw contract frames (strings; master with tax_year).
    """
    matched = decisions.filter(pl.col("outcome") == Outcome.MATCH.value).select("request_id", "tin")
    if matched.is_empty():
        return decisions.with_columns(pl.lit(None, pl.Utf8).alias("address_status"))
    req = normalize_addresses(
        requests.join(matched.select("request_id"), on="request_id").select(
            "request_id", "street", "zip", "city", "state"
        ),
        "street",
        "zip",
        "city",
    ).with_columns(pl.col("state").str.to_uppercase().str.strip_chars().alias("state_std"))
    addresses = normalize_addresses(
        master.join(matched.select("tin").unique(), on="tin")
        .with_columns((pl.col("tax_year") == pl.col("tax_year").max().over("tin")).alias("is_current"))
        .select("tin", "street", "zip", "city", "state", "is_current")
        .unique(),
        "street",
        "zip",
        "city",
    ).with_columns(pl.col("state").str.to_uppercase().str.strip_chars().alias("state_std"))
    con = duckdb.connect()
    try:
        con.register("matched", matched.to_arrow())
        con.register("r", req.to_arrow())
        con.register("a", addresses.to_arrow())
        level_sql = address_level_sql("r", "a")
        levels = con.sql(
            f"""SELECT m.request_id, max({level_sql}) AS level
            FROM matched m JOIN r USING (request_id) JOIN a ON a.tin = m.tin
            GROUP BY m.request_id"""  # noqa: S608 - fragments are code constants
        ).pl()
    finally:
        con.close()
    status = levels.select(
        "request_id",
        pl.when(pl.col("level") == 5)
        .then(pl.lit(AddressStatus.CURRENT.value))
        .when(pl.col("level") == 4)
        .then(pl.lit(AddressStatus.PREVIOUS.value))
        .otherwise(pl.lit(AddressStatus.NOT_ON_FILE.value))
        .alias("status"),
    )
    return (
        decisions.join(status, on="request_id", how="left")
        .with_columns(
            pl.when(pl.col("outcome") == Outcome.MATCH.value)
            .then(pl.col("status").fill_null(AddressStatus.NOT_ON_FILE.value))
            .alias("address_status")
        )
        .select(list(DECISION_SCHEMA))
    )


# -- the whole run -------------------------------------------------------------------------
def run_splink(master_path: Path, requests_path: Path, out: Path, config: SplinkConfig) -> dict[str, object]:
    """Read the contract files, link with Splink, decide and write both decision files."""
    started = time.perf_counter()
    phases: dict[str, float] = {}
    last = [started]

    def phase(name: str) -> None:
        now = time.perf_counter()
        phases[name] = round(now - last[0], 2)
        last[0] = now

    out.mkdir(parents=True, exist_ok=True)
    master = read_master(master_path).collect()
    requests = read_requests(requests_path)
    splink_master, ids = master_for_splink(master, config.master_rows)
    splink_requests = clean_for_splink(requests, pl.col("request_id"))
    phase("read_and_clean")
    pairs = splink_pairs(splink_master, splink_requests, config, model_path=out / "model.json", phase=phase)
    pairs = pairs.join(ids, left_on="master_id", right_on="unique_id").select(
        "request_id", "tin", "match_weight", "match_probability"
    )
    plain, margin = decide(pairs, requests["request_id"], config)
    written: dict[str, str] = {}
    for name, frame in (("decisions", plain), ("decisions-margin", margin)):
        target = out / f"{name}.parquet"
        with_address_status(frame, requests, master).write_parquet(target)
        written[name] = str(target)
    phase("decide_and_write")
    report: dict[str, object] = {
        "config": asdict(config),
        "master_rows": master.height,
        "splink_master_records": splink_master.height,
        "requests": requests.height,
        "pairs_above_predict_threshold": pairs.height,
        "phases_seconds": phases,
        "seconds": round(time.perf_counter() - started, 2),
        "outputs": written,
    }
    (out / "run.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return report


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m custodes.bench.splink_baseline MASTER REQUESTS OUT [options]``."""
    defaults = SplinkConfig()
    parser = argparse.ArgumentParser(description="Splink 5 baseline for `custodes bench linkage`.")
    parser.add_argument("master", type=Path)
    parser.add_argument("requests", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--master-rows", choices=("all", "record"), default=defaults.master_rows)
    parser.add_argument("--match-threshold", type=float, default=defaults.match_threshold)
    parser.add_argument("--margin-bits", type=float, default=defaults.margin_bits)
    parser.add_argument("--u-max-pairs", type=float, default=defaults.u_max_pairs)
    args = parser.parse_args(argv)
    config = SplinkConfig(
        match_threshold=args.match_threshold,
        margin_bits=args.margin_bits,
        master_rows=args.master_rows,
        u_max_pairs=args.u_max_pairs,
        seed=args.seed,
    )
    print(json.dumps(run_splink(args.master, args.requests, args.out, config), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
