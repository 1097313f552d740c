"""FEBRL4 and pseudopeople as contract files whose truth agrees with custodes' legal check."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from custodes.bench.external import TRUTH_COLUMNS, febrl3, febrl4, pseudopeople_sample
from custodes.config import I2, Settings
from custodes.contract import read_manifest, read_master, read_requests
from custodes.legal import check_batch
from custodes.legal.subjects import check_subjects


def _check_contract(out: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    master = read_master(out / "master.parquet").collect()
    requests = read_requests(out / "requests.csv")
    manifest = read_manifest(out / "requests.manifest.json")
    assert manifest.record_count == requests.height
    assert manifest.agency == "Department of Homeland Security"
    verdict = check_batch(manifest, Settings(), datetime(2025, 6, 3, tzinfo=UTC), requests.height)
    assert verdict.allowed, verdict.reason
    truth = pl.read_csv(out / "truth.csv", infer_schema=False)
    assert tuple(truth.columns) == TRUTH_COLUMNS
    assert truth["request_id"].to_list() == requests["request_id"].to_list()
    # refusals are exactly what custodes' own per-subject check refuses
    reasons = check_subjects(requests, Settings().bases[I2])
    assert truth["expected_reason"].to_list() == reasons.to_list()
    assert truth.filter(pl.col("expected_reason").is_not_null())["expected_outcome"].unique().to_list() in (
        [],
        ["refused"],
    )
    # every expected match names a taxpayer on file; nothing else names anyone
    matches = truth.filter(pl.col("expected_outcome") == "match")
    assert matches["tin"].is_in(master["tin"].implode()).all()
    assert truth.filter(pl.col("expected_outcome") != "match")["tin"].is_null().all()
    assert set(matches["address_status"].to_list()) <= {"current", "previous", "not_on_file"}
    assert set(truth["info_floor"].to_list()) == {"false"}
    return master, requests, truth


def test_febrl4_without_tin(tmp_path: Path) -> None:
    summary = febrl4(tmp_path)
    master, requests, truth = _check_contract(tmp_path)
    assert (summary.master_rows, summary.taxpayers, summary.requests) == (5000, 5000, 5000)
    assert requests["tin"].is_null().all()
    assert master["tin"].str.contains(r"^50111\d{4}$").all()
    assert set(truth["expected_outcome"].to_list()) == {"match", "refused"}  # every B record is in A
    assert set(truth["category"].to_list()) == {"febrl4"}
    assert truth.filter(pl.col("expected_reason") == "invalid_tin").is_empty()
    first = requests.row(0, named=True)
    assert first["dob"] is None or len(first["dob"]) == 10


def test_febrl4_with_padded_soc_sec_id(tmp_path: Path) -> None:
    febrl4(tmp_path, with_tin=True)
    master, requests, truth = _check_contract(tmp_path)
    assert master["tin"].str.len_chars().unique().to_list() == [9]
    assert requests["tin"].drop_nulls().str.starts_with("00").all()
    assert truth.filter(pl.col("expected_reason") == "invalid_tin").height > 0


@pytest.mark.slow
def test_pseudopeople_one_tax_year(tmp_path: Path) -> None:
    summary = pseudopeople_sample(tmp_path, tax_years=(2020,))
    master, requests, truth = _check_contract(tmp_path)
    assert master["tax_year"].unique().to_list() == [2020]
    assert master["tin"].str.contains(r"^\d{9}$").all()
    assert summary.taxpayers == master["tin"].n_unique()
    assert requests["tin"].is_null().all()
    assert {"match", "no_match", "refused"} <= set(truth["expected_outcome"].to_list())
    assert set(truth["category"].to_list()) == {"pseudopeople"}
    # a single year: an address on file is the address of record
    statuses = set(truth.filter(pl.col("expected_outcome") == "match")["address_status"].to_list())
    assert statuses <= {"current", "not_on_file"}


def test_febrl3_asks_once_for_each_person_and_leaves_every_fourth_off_file(tmp_path: Path) -> None:
    summary = febrl3(tmp_path)
    master, requests, truth = _check_contract(tmp_path)
    # 2,000 originals, every fourth left off; one request for each of the 1,165 duplicated
    assert summary.taxpayers == master["tin"].n_unique() == 1500
    assert requests.height == 1165
    assert requests["tin"].is_null().all()
    assert set(truth["category"].to_list()) == {"febrl3"}
    # a request whose original was left off the master names no one: its answer is no_match
    off_file = truth.filter(pl.col("tags").str.contains("subject_not_on_file"))
    assert off_file.height > 250
    assert set(off_file["expected_outcome"].to_list()) <= {"no_match", "refused"}
    assert summary.expected["no_match"] == off_file.filter(pl.col("expected_outcome") == "no_match").height
    on_file = truth.filter(pl.col("expected_outcome") == "match")
    assert on_file["tin"].is_unique().all()
    assert summary.expected["match"] + summary.expected["no_match"] + summary.expected["refused"] == 1165
