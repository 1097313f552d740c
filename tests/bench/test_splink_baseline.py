"""The Splink baseline's cleaning, decision rule and address status, without running Splink."""

from __future__ import annotations

from datetime import date

import polars as pl

from custodes.bench.splink_baseline import (
    DECISION_SCHEMA,
    SplinkConfig,
    clean_for_splink,
    decide,
    master_for_splink,
    with_address_status,
)

MASTER = pl.DataFrame(
    {
        "tin": ["111111111", "111111111", "222222222"],
        "first_name": ["Ana", "ANA", "Luis"],
        "middle_name": [None, None, None],
        "last_name": ["García", "GARCÍA", "Pérez"],
        "dob": [date(1980, 1, 2), date(1980, 1, 2), None],
        "street": ["12 Oak Street", "40 Elm Ave Apt 3", "40 Elm Avenue #3"],
        "city": ["Austin", "Austin", "Austin"],
        "state": ["TX", "TX", "tx"],
        "zip": ["78701", "78702-1234", "78702"],
        "tax_year": [2021, 2024, 2024],
    },
    schema_overrides={"middle_name": pl.Utf8},
)


def _pairs(rows: list[tuple[str, str, float, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["request_id", "tin", "match_weight", "match_probability"], orient="row")


def test_cleaning_reads_dates_zips_tins_and_house_numbers() -> None:
    frame = pl.DataFrame(
        {
            "request_id": ["a", "b", "c", "d"],
            "first_name": [" ana ", "", "Luis  M", None],
            "last_name": ["garcía", "x", "y", "z"],
            "dob": ["1980-01-02", "01/02/1980", "19800102", "13/45/1980"],
            "zip": ["78701-1234", "787011234", "", "7870"],
            "street": ["12 Oak St.", "PO Box 7", "Apt 3, 40 Elm", None],
            "tin": ["123-45-6789", "", None, "12 3"],
        }
    )
    cleaned = clean_for_splink(frame, pl.col("request_id"))
    assert cleaned["unique_id"].to_list() == ["a", "b", "c", "d"]
    assert cleaned["first_name"].to_list() == ["ANA", None, "LUIS M", None]
    assert cleaned["dob"].to_list() == ["1980-01-02", "1980-01-02", "1980-01-02", None]
    assert cleaned["zip"].to_list() == ["78701", "78701", None, "7870"]
    assert cleaned["street"].to_list() == ["12 OAK ST", "PO BOX 7", "APT 3 40 ELM", None]
    assert cleaned["house"].to_list() == ["12", None, None, None]
    assert cleaned["tin"].to_list() == ["123456789", None, None, "123"]


def test_master_rows_all_or_address_of_record() -> None:
    every, ids = master_for_splink(MASTER, "all")
    assert every.height == 3
    assert ids.columns == ["unique_id", "tin"]
    record, _ = master_for_splink(MASTER, "record")
    assert sorted(record["street"].to_list()) == ["40 ELM AVE APT 3", "40 ELM AVENUE 3"]
    # two years with the same compared fields are one Splink record
    repeated = pl.concat([MASTER, MASTER.head(1).with_columns(pl.lit(2022, pl.Int64).alias("tax_year"))])
    assert master_for_splink(repeated, "all")[0].height == 3


def test_plain_rule_takes_the_top_candidate_at_099() -> None:
    pairs = _pairs(
        [
            ("r1", "111", 20.0, 0.999), ("r1", "222", 19.0, 0.998),  # twins: plain picks the top
            ("r2", "111", 5.0, 0.97),
            ("r3", "333", 12.0, 0.9995), ("r3", "333", 30.0, 1.0),  # one taxpayer, two years
        ]
    )  # fmt: skip
    plain, margin = decide(pairs, pl.Series(["r1", "r2", "r3", "r4"]), SplinkConfig())
    assert plain.columns == list(DECISION_SCHEMA)
    rows = {r["request_id"]: r for r in plain.iter_rows(named=True)}
    assert (rows["r1"]["outcome"], rows["r1"]["tin"]) == ("match", "111")
    assert (rows["r2"]["outcome"], rows["r2"]["reason"], rows["r2"]["tin"]) == (
        "no_match",
        "below_threshold",
        None,
    )
    assert (rows["r3"]["outcome"], rows["r3"]["tin"], rows["r3"]["match_probability"]) == (
        "match",
        "333",
        1.0,
    )
    assert (rows["r4"]["outcome"], rows["r4"]["reason"]) == ("no_match", "no_candidate")
    mrows = {r["request_id"]: r for r in margin.iter_rows(named=True)}
    assert (mrows["r1"]["outcome"], mrows["r1"]["reason"], mrows["r1"]["tin"]) == (
        "ambiguous",
        "several_candidates",
        None,
    )
    assert mrows["r3"]["outcome"] == "match"  # the same taxpayer's other row is no rival
    assert mrows["r2"]["outcome"] == "no_match"


def test_margin_is_in_bits_of_match_weight() -> None:
    pairs = _pairs([("r1", "111", 20.0, 0.999), ("r1", "222", 12.0, 0.99)])
    _, margin = decide(pairs, pl.Series(["r1"]), SplinkConfig(margin_bits=8.0))
    assert margin["outcome"].to_list() == ["match"]
    _, stricter = decide(pairs, pl.Series(["r1"]), SplinkConfig(margin_bits=8.5))
    assert stricter["outcome"].to_list() == ["ambiguous"]


def test_address_status_uses_custodes_comparison() -> None:
    requests = pl.DataFrame(
        {
            "request_id": ["cur", "prev", "off", "none"],
            "street": ["40 Elm Avenue Apartment 3", "12 OAK ST", "99 Pine Rd", "12 Oak St"],
            "zip": ["78702", "78701", "78701", "78701"],
            "city": ["Austin", "Austin", "Austin", "Austin"],
            "state": ["TX", "TX", "TX", "TX"],
        }
    )
    decisions = pl.DataFrame(
        {
            "request_id": ["cur", "prev", "off", "none"],
            "outcome": ["match", "match", "match", "no_match"],
            "reason": ["matched", "matched", "matched", "below_threshold"],
            "tin": ["111111111", "111111111", "111111111", None],
            "match_probability": [1.0, 1.0, 0.995, 0.5],
            "address_status": [None, None, None, None],
        },
        schema_overrides={"address_status": pl.Utf8},
    )
    out = with_address_status(decisions, requests, MASTER)
    assert out.columns == list(DECISION_SCHEMA)
    assert out["address_status"].to_list() == ["current", "previous", "not_on_file", None]
    nothing = with_address_status(decisions.filter(pl.col("outcome") != "match"), requests, MASTER)
    assert nothing["address_status"].to_list() == [None]
