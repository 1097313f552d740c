"""The files generate() writes: names, columns, formats, determinism, manifest."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from custodes.errors import UserInputError
from custodes.synth import SHARES, SynthSummary, generate
from tests.synth.conftest import REQUESTS, out_dir

MASTER_COLUMNS = [
    "tin", "first_name", "middle_name", "last_name", "dob", "street", "city", "state", "zip",
    "tax_year",
]  # fmt: skip
REQUEST_COLUMNS = [
    "request_id", "first_name", "middle_name", "last_name", "dob", "street", "city", "state",
    "zip", "tin", "case_reference",
]  # fmt: skip
TRUTH_COLUMNS = [
    "request_id", "expected_outcome", "expected_reason", "tin", "address_status", "category",
    "tags", "info_floor",
]  # fmt: skip


def test_parquet_run_writes_the_contract_files(synth: SynthSummary) -> None:
    assert out_dir(synth.out) == [
        "master.parquet", "requests.csv", "requests.manifest.json", "requests.parquet", "truth.csv",
    ]  # fmt: skip
    assert pl.read_parquet(synth.master_path).columns == MASTER_COLUMNS
    assert pl.read_csv(synth.requests_path, infer_schema=False).columns == REQUEST_COLUMNS
    assert pl.read_csv(synth.truth_path, infer_schema=False).columns == TRUTH_COLUMNS
    assert synth.requests == REQUESTS
    assert sum(synth.categories.values()) == REQUESTS


def test_requests_csv_and_parquet_hold_the_same_rows(synth: SynthSummary) -> None:
    assert synth.requests_parquet_path is not None
    from_csv = pl.read_csv(synth.requests_path, infer_schema=False)
    from_parquet = pl.read_parquet(synth.requests_parquet_path)
    assert from_csv.equals(from_parquet)


def test_master_types(master: pl.DataFrame) -> None:
    assert master.schema["dob"] == pl.Date
    assert master.schema["tax_year"].is_integer()
    assert master.schema["tin"] == pl.String
    assert master.schema["zip"] == pl.String


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a = generate(3000, 400, seed=5, out=tmp_path / "a")
    b = generate(3000, 400, seed=5, out=tmp_path / "b")
    c = generate(3000, 400, seed=6, out=tmp_path / "c")
    for name in out_dir(a.out):
        assert (a.out / name).read_bytes() == (b.out / name).read_bytes(), name
    for name in ("master.parquet", "requests.csv", "truth.csv", "requests.manifest.json"):
        assert (a.out / name).read_bytes() != (c.out / name).read_bytes(), name


def test_csv_run_keeps_leading_zeros(tmp_path: Path) -> None:
    s = generate(3000, 300, seed=3, out=tmp_path, fmt="csv")
    assert out_dir(tmp_path) == ["master.csv", "requests.csv", "requests.manifest.json", "truth.csv"]
    assert s.requests_parquet_path is None
    text = pl.read_csv(s.master_path, infer_schema=False)
    assert text.columns == MASTER_COLUMNS
    assert text["tin"].str.len_chars().min() == 9
    assert text["zip"].str.contains(r"^\d{5}(-?\d{4})?$").all()
    assert text["tin"].str.starts_with("0").any(), "SSN areas 001-099 exist and keep their zero"


def test_manifest_is_a_valid_i2_request(synth: SynthSummary) -> None:
    manifest = json.loads(synth.manifest_path.read_text(encoding="utf-8"))
    assert manifest["batch_id"] == f"SYNTH-11-{REQUESTS}"
    assert manifest["agency"] == "Department of Homeland Security"
    assert manifest["legal_basis"] == "26 USC 6103(i)(2)"
    assert manifest["statutory_authority"] == "8 USC 1253(a)(1)"
    assert manifest["taxable_periods"]
    assert all(p.isdigit() for p in manifest["taxable_periods"])
    assert len(manifest["reason"]) > 60
    assert manifest["signed_by"]["title"] == "Secretary of Homeland Security"
    assert manifest["signed_by"]["name"]
    assert datetime.fromisoformat(manifest["submitted_at"].replace("Z", "+00:00")).tzinfo
    assert manifest["disclosure_profile"] == "verify_only"
    assert manifest["batch_file"] == "requests.csv"
    assert manifest["record_count"] == REQUESTS
    assert "engaged_officers" not in manifest


@pytest.mark.parametrize(
    ("persons", "requests", "fmt"),
    [(50, 10, "parquet"), (1000, 0, "parquet"), (1000, 10, "xlsx")],
)
def test_bad_arguments_are_user_errors(tmp_path: Path, persons: int, requests: int, fmt: str) -> None:
    with pytest.raises(UserInputError):
        generate(persons, requests, seed=1, out=tmp_path, fmt=fmt)  # type: ignore[arg-type]


def test_progress_is_reported(tmp_path: Path) -> None:
    seen: list[tuple[str, float]] = []
    generate(2000, 200, seed=2, out=tmp_path, progress=lambda stage, f: seen.append((stage, f)))
    assert seen[0][1] == 0.0
    assert seen[-1] == ("done", 1.0)
    assert [f for _s, f in seen] == sorted(f for _s, f in seen)


def test_every_category_has_enough_rows(synth: SynthSummary) -> None:
    assert set(synth.categories) == set(SHARES)
    for category, share in SHARES.items():
        assert synth.categories[category] >= 0.9 * share * REQUESTS, category
    for hard in ("twin", "jr_sr", "namesake", "out_of_master"):
        assert synth.categories[hard] >= 0.02 * REQUESTS, hard
    assert synth.outcomes["match"] / REQUESTS == pytest.approx(0.70, abs=0.05)
    assert synth.outcomes["no_match"] / REQUESTS == pytest.approx(0.19, abs=0.05)
    assert synth.outcomes["refused"] / REQUESTS == pytest.approx(0.11, abs=0.03)


def test_category_sets_partition_the_shares() -> None:
    from custodes.synth.requests import MATCH_CATEGORIES, NO_MATCH_CATEGORIES, REFUSED_CATEGORIES

    assert set(SHARES) == MATCH_CATEGORIES | NO_MATCH_CATEGORIES | REFUSED_CATEGORIES
    assert sum(SHARES.values()) == pytest.approx(1.0)
    assert sum(SHARES[c] for c in MATCH_CATEGORIES) == pytest.approx(0.70)
