"""Writing decisions and responses: contract columns and types, and nothing that must not leave."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from custodes.contract import DECISION_COLUMNS, DECISION_SCHEMA, write_decisions, write_response


def decisions(**overrides: list[object]) -> pl.DataFrame:
    data: dict[str, list[object]] = {
        "request_id": ["R1", "R2"],
        "outcome": ["match", "refused"],
        "reason": ["matched", "placeholder_address"],
        "tin": ["012345678", None],
        "match_probability": [0.999, None],
        "address_status": ["current", None],
        "extra": [1, 2],
    }
    return pl.DataFrame({**data, **overrides}, strict=False)


def test_decisions_are_written_with_exactly_the_contract_columns_and_types(tmp_path: Path) -> None:
    path = tmp_path / "decisions.parquet"
    write_decisions(decisions(), path)
    written = pl.read_parquet(path)
    assert tuple(written.columns) == DECISION_COLUMNS
    assert dict(written.schema) == DECISION_SCHEMA
    assert written.get_column("tin").to_list() == ["012345678", None]


def test_decisions_missing_a_column_are_not_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="address_status"):
        write_decisions(decisions().drop("address_status"), tmp_path / "d.parquet")


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("outcome", ["match", "maybe"]),
        ("reason", ["matched", "because"]),
        ("address_status", ["current", "moon"]),
    ],
)
def test_decisions_outside_the_vocabulary_are_not_written(
    tmp_path: Path, column: str, values: list[object]
) -> None:
    with pytest.raises(ValueError, match=column):
        write_decisions(decisions(**{column: values}), tmp_path / "d.parquet")
    assert not (tmp_path / "d.parquet").exists()


def test_every_decision_needs_an_outcome(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="outcome"):
        write_decisions(decisions(outcome=["match", None]), tmp_path / "d.parquet")


def test_the_response_is_a_csv_with_blank_for_missing(tmp_path: Path) -> None:
    path = tmp_path / "response.csv"
    response = pl.DataFrame(
        {
            "request_id": ["R1", "R2"],
            "outcome": ["match", "refused"],
            "reason": [None, "missing_name"],
            "address_status": ["current", None],
        }
    )
    write_response(response, path)
    assert path.read_text(encoding="utf-8") == (
        "request_id,outcome,reason,address_status\nR1,match,,current\nR2,refused,missing_name,\n"
    )


@pytest.mark.parametrize("column", ["tin", "match_probability"])
def test_a_response_never_carries_a_tin_or_a_probability(tmp_path: Path, column: str) -> None:
    response = pl.DataFrame({"request_id": ["R1"], "outcome": ["match"], column: ["x"]})
    with pytest.raises(ValueError, match=column):
        write_response(response, tmp_path / "r.csv")


def test_a_response_starts_with_request_id_and_outcome(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="request_id"):
        write_response(pl.DataFrame({"outcome": ["match"], "request_id": ["R1"]}), tmp_path / "r.csv")
