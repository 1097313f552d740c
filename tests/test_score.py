"""The scorer on a handcrafted truth/decisions pair with known answers, and its errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest

from custodes.errors import UserInputError
from custodes.score import score
from custodes.synth import generate

TRUTH = [
    # request_id, expected_outcome, expected_reason, tin, address_status, category, info_floor
    ("R1", "match", None, "111111111", "current", "clean", "false"),
    ("R2", "match", None, "222222222", "previous", "moved", "false"),
    ("R3", "match", None, "333333333", "current", "jr_sr", "true"),
    ("R4", "no_match", None, None, None, "out_of_master", "false"),
    ("R5", "no_match", None, None, None, "not_in_master", "false"),
    ("R6", "refused", "placeholder_address", None, None, "placeholder_address", "false"),
    ("R7", "refused", "missing_name", None, None, "missing_name", "false"),
    ("R8", "match", None, "888888888", "current", "twin", "false"),
    ("R9", "match", None, "055555555", "current", "clean", "false"),
]
DECISIONS = [
    # request_id, outcome, reason, tin, match_probability, address_status
    ("R1", "match", "matched", "111111111", "0.999", "current"),  # right
    ("R2", "match", "matched", "222-22-2222", "0.998", "current"),  # right person, wrong status
    ("R3", "match", "matched", "999999999", "0.997", "current"),  # the father: wrongful, at floor
    ("R4", "match", "matched", "444444444", "0.996", "current"),  # a relative: wrongful
    ("R5", "ambiguous", "several_candidates", None, None, None),
    ("R6", "refused", "placeholder_address", None, None, None),
    ("R7", "refused", "missing_address", None, None, None),  # refused, wrong reason
    ("R8", "no_match", "below_threshold", None, "0.4", None),  # missed
    ("R9", "refused", "invalid_tin", None, None, None),  # refused a good request
]


def write(path: Path, columns: list[str], rows: Sequence[tuple[str | None, ...]]) -> Path:
    pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String), orient="row").write_csv(path)
    return path


def truth_file(tmp_path: Path, rows: Sequence[tuple[str | None, ...]] = TRUTH) -> Path:
    cols = ["request_id", "expected_outcome", "expected_reason", "tin", "address_status", "category"]
    frame = pl.DataFrame(rows, schema=dict.fromkeys([*cols, "info_floor"], pl.String), orient="row")
    frame = frame.with_columns(tags=pl.col("category"))
    path = tmp_path / "truth.csv"
    frame.write_csv(path)
    return path


def decisions_file(tmp_path: Path, rows: Sequence[tuple[str | None, ...]] = DECISIONS) -> Path:
    cols = ["request_id", "outcome", "reason", "tin", "match_probability", "address_status"]
    return write(tmp_path / "decisions.csv", cols, rows)


def test_known_answers(tmp_path: Path) -> None:
    result = score(truth_file(tmp_path), decisions_file(tmp_path))
    assert result["n_requests"] == 9
    assert result["outcome_counts"] == {"refused": 3, "no_match": 1, "ambiguous": 1, "match": 4}
    assert result["expected_counts"] == {"match": 5, "no_match": 2, "refused": 2}
    assert result["precision"] == pytest.approx(2 / 4)
    assert result["recall"] == pytest.approx(2 / 5)
    assert result["f1"] == pytest.approx(2 * 0.5 * 0.4 / 0.9)
    assert result["wrongful_disclosures"] == 2
    assert result["wrongful_rate"] == pytest.approx(2 / 9)
    assert result["info_floor"] == 1
    assert result["wrongful_outside_floor"] == 1
    assert result["recall_outside_floor"] == pytest.approx(2 / 4)
    assert result["refusal_precision"] == pytest.approx(2 / 3)
    assert result["refusal_recall"] == pytest.approx(1.0)
    assert result["refusal_reason_accuracy"] == pytest.approx(1 / 2)
    assert result["address_status_accuracy"] == pytest.approx(1 / 2)
    # R1, R2 right; R5 (ambiguous for no_match) right; R6, R7 refused as they should be
    assert result["outcome_accuracy"] == pytest.approx(5 / 9)
    assert result["confusion"] == {
        "match": {"match": 3, "no_match": 1, "refused": 1},
        "no_match": {"ambiguous": 1, "match": 1},
        "refused": {"refused": 2},
    }
    per = result["per_category"]
    assert isinstance(per, dict)
    assert per["clean"] == {
        "n": 2, "match": 1, "match_correct": 1, "wrongful": 0, "ambiguous": 0, "no_match": 0,
        "refused": 1, "info_floor": 0, "recall": 0.5, "outcome_accuracy": 0.5,
    }  # fmt: skip
    assert per["jr_sr"]["wrongful"] == 1
    assert per["jr_sr"]["info_floor"] == 1
    assert per["out_of_master"]["wrongful"] == 1
    assert per["out_of_master"]["recall"] is None
    assert per["twin"]["no_match"] == 1
    assert per["twin"]["recall"] == 0.0


def test_parquet_decisions_with_numeric_tins(tmp_path: Path) -> None:
    frame = pl.read_csv(decisions_file(tmp_path), infer_schema=False).with_columns(
        pl.col("tin").str.replace_all("-", "").cast(pl.Int64),
        pl.col("match_probability").cast(pl.Float64),
    )
    frame = frame.with_columns(
        pl.when(pl.col("request_id") == "R9").then(55555555).otherwise(pl.col("tin")).alias("tin"),
        pl.when(pl.col("request_id") == "R9").then(pl.lit("match")).otherwise("outcome").alias("outcome"),
        pl.when(pl.col("request_id") == "R9")
        .then(pl.lit("current"))
        .otherwise("address_status")
        .alias("address_status"),
    )
    path = tmp_path / "decisions.parquet"
    frame.write_parquet(path)
    result = score(truth_file(tmp_path), path)
    assert result["precision"] == pytest.approx(3 / 5), "055555555 kept its leading zero"


def test_perfect_decisions_from_generated_truth(tmp_path: Path) -> None:
    s = generate(2000, 300, seed=4, out=tmp_path / "synth")
    truth = pl.read_csv(s.truth_path, infer_schema=False)
    oracle = truth.select(
        "request_id",
        pl.col("expected_outcome").alias("outcome"),
        pl.col("expected_reason").alias("reason"),
        "tin",
        pl.when(pl.col("expected_outcome") == "match").then(pl.lit("1.0")).alias("match_probability"),
        "address_status",
    )
    oracle.write_parquet(tmp_path / "oracle.parquet")
    result = score(s.truth_path, tmp_path / "oracle.parquet")
    assert result["precision"] == result["recall"] == result["f1"] == 1.0
    assert result["wrongful_disclosures"] == 0
    assert result["refusal_reason_accuracy"] == result["address_status_accuracy"] == 1.0
    assert result["outcome_accuracy"] == 1.0
    per = result["per_category"]
    assert isinstance(per, dict)
    assert set(per) == set(s.categories)


def test_no_predicted_match_gives_none_not_a_crash(tmp_path: Path) -> None:
    rows = [(r[0], "no_match", "no_candidate", None, None, None) for r in TRUTH]
    result = score(truth_file(tmp_path), decisions_file(tmp_path, rows))
    assert result["precision"] is None
    assert result["recall"] == 0.0
    assert result["f1"] is None
    assert result["address_status_accuracy"] is None


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    decisions = tmp_path / "d.csv"
    pl.read_csv(decisions_file(tmp_path), infer_schema=False).drop("outcome").write_csv(decisions)
    with pytest.raises(UserInputError) as err:
        score(truth_file(tmp_path), decisions)
    assert err.value.column == "outcome"
    assert err.value.file == str(decisions)
    assert "request_id, outcome" in str(err.value.hint)


def test_request_id_sets_must_agree(tmp_path: Path) -> None:
    rows = [d for d in DECISIONS if d[0] not in {"R2", "R3"}] + [("R99", "no_match", None, None, None, None)]
    with pytest.raises(UserInputError) as err:
        score(truth_file(tmp_path), decisions_file(tmp_path, rows))
    text = str(err.value)
    assert "2 request(s) of the truth have no decision (e.g. R2, R3)" in text
    assert "1 decision(s) are for requests not in the truth (e.g. R99)" in text


def test_duplicates_unknown_outcomes_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="more than once"):
        score(truth_file(tmp_path), decisions_file(tmp_path, [*DECISIONS, DECISIONS[0]]))
    bad = [("R1", "yes", None, None, None, None), *DECISIONS[1:]]
    with pytest.raises(UserInputError, match="unknown outcome"):
        score(truth_file(tmp_path), decisions_file(tmp_path, bad))
    with pytest.raises(UserInputError, match="does not exist"):
        score(tmp_path / "nope.csv", decisions_file(tmp_path))
