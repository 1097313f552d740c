"""The whole pipeline through the Gateway, on a small hand-made master file."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from alembic import command
from polars.testing import assert_frame_equal
from sqlalchemy import func, select

from custodes import DuplicateBatchError, Gateway, ManifestError, Settings
from custodes.errors import StoreError
from custodes.store import connect, upgrade
from custodes.store.engine import alembic_config
from custodes.store.schema import batches, decisions, requests
from tests.link.conftest import COLUMNS, MASTER_ROWS, filler_rows

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

REQUEST_HEADER = [
    "request_id",
    "first_name",
    "middle_name",
    "last_name",
    "dob",
    "street",
    "city",
    "state",
    "zip",
    "tin",
]
REQUESTS = [
    ["R1", "Anna", "", "Kowalski", "2001-05-05", "9 Oak Ave Apt 3", "Peoria", "IL", "61602", ""],
    ["R2", "John", "Q", "Smith", "", "12 Elm St", "Springfield", "IL", "62701", ""],
    ["R3", "Jose", "", "Garcia", "1975-11-30", "Failed to Provide", "Chicago", "IL", "60611", "523456789"],
    ["R4", "Carlos", "", "Garcia", "2008-04-04", "77 Lake Shore Dr Unit 9", "Chicago", "IL", "60611", ""],
    ["R5", "Jose", "L", "Garcia Lopez", "1975-11-30", "400 N Main St", "Chicago", "IL", "60601", "52345678"],
    ["R6", "Bill", "", "Baker", "1955-09-09", "P.O. Box 77", "Urbana", "IL", "61801", ""],
    ["R7", "", "", "Baker", "1955-09-09", "P.O. Box 77", "Urbana", "IL", "61801", ""],
    ["R8", "Maria", "", "Garcia", "1978-02-14", "", "Chicago", "IL", "60611", "623456789"],
]


def manifest(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "batch_id": "DHS-TEST-1",
        "agency": "Department of Homeland Security",
        "legal_basis": "26 USC 6103(i)(2)",
        "statutory_authority": "8 USC 1253(a)(1)",
        "taxable_periods": ["2023", "2024"],
        "reason": "Each named person is the subject of a pending nontax criminal investigation under the cited statute.",
        "signed_by": {"name": "A. Synthetic", "title": "Secretary of Homeland Security"},
        "submitted_at": "2026-11-20T12:00:00Z",
    }
    base.update(overrides)
    return base


@pytest.fixture
def gateway(tmp_path: Path, store_url: str) -> Iterator[Gateway]:
    settings = Settings(home=tmp_path / "home", database_url=store_url)
    gw = Gateway(settings)
    gw.init()
    master = pl.DataFrame(MASTER_ROWS + filler_rows(3000), schema=COLUMNS, orient="row")
    master_path = tmp_path / "master.parquet"
    master.with_columns(pl.col(c).replace("", None) for c in COLUMNS if c != "tax_year").write_parquet(
        master_path
    )
    gw.load_master(master_path)
    yield gw
    gw.close()


def write_batch(directory: Path, rows: list[list[str]], **overrides: object) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    batch = directory / "requests.csv"
    with batch.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REQUEST_HEADER)
        writer.writerows(rows)
    man = directory / "requests.manifest.json"
    man.write_text(json.dumps(manifest(**overrides)), encoding="utf-8")
    return batch, man


def test_a_batch_runs_end_to_end_and_every_row_is_decided_and_recorded(
    gateway: Gateway, tmp_path: Path
) -> None:
    batch, man = write_batch(tmp_path / "in", REQUESTS)
    result = gateway.verify_batch(batch, man, tmp_path / "out", now=NOW)
    decided = pl.read_parquet(result.decisions_path).sort("request_id")
    by_id = {row["request_id"]: row for row in decided.to_dicts()}
    assert (by_id["R1"]["outcome"], by_id["R1"]["tin"], by_id["R1"]["address_status"]) == (
        "match",
        "323456789",
        "current",
    )
    assert by_id["R2"]["outcome"] == "ambiguous"
    assert (by_id["R3"]["outcome"], by_id["R3"]["reason"]) == ("refused", "placeholder_address")
    assert by_id["R4"]["outcome"] == "no_match"
    assert (by_id["R5"]["outcome"], by_id["R5"]["reason"]) == ("refused", "invalid_tin")
    assert (by_id["R6"]["outcome"], by_id["R6"]["tin"]) == ("match", "723456789")
    assert (by_id["R7"]["outcome"], by_id["R7"]["reason"]) == ("refused", "missing_name")
    assert (by_id["R8"]["outcome"], by_id["R8"]["reason"]) == ("refused", "missing_address")
    engine = connect(gateway.settings.store_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(batches)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(requests)).scalar_one() == len(REQUESTS)
        assert conn.execute(select(func.count()).select_from(decisions)).scalar_one() == len(REQUESTS)
    engine.dispose()


def test_the_response_discloses_only_what_the_profile_permits(gateway: Gateway, tmp_path: Path) -> None:
    batch, man = write_batch(tmp_path / "in", REQUESTS)
    result = gateway.verify_batch(batch, man, tmp_path / "out", now=NOW)
    response = pl.read_csv(result.response_path, infer_schema=False)
    assert response.columns == ["request_id", "outcome", "reason", "address_status"]
    by_id = {row["request_id"]: row for row in response.to_dicts()}
    # ambiguous and no_match look alike to the agency; only refusals carry a reason
    assert by_id["R2"] == {"request_id": "R2", "outcome": "no_match", "reason": None, "address_status": None}
    assert by_id["R4"] == {"request_id": "R4", "outcome": "no_match", "reason": None, "address_status": None}
    assert by_id["R3"]["reason"] == "placeholder_address"
    assert by_id["R1"]["address_status"] == "current"
    text = result.response_path.read_text()
    assert "323456789" not in text


def test_a_legally_insufficient_manifest_refuses_every_row_with_the_batch_reason(
    gateway: Gateway, tmp_path: Path
) -> None:
    batch, man = write_batch(tmp_path / "in", REQUESTS, statutory_authority="26 USC 7201")
    result = gateway.verify_batch(batch, man, tmp_path / "out", now=NOW)
    decided = pl.read_parquet(result.decisions_path)
    assert set(decided.get_column("outcome")) == {"refused"}
    assert set(decided.get_column("reason")) == {"tax_administration_statute"}
    assert result.batch_reason == "tax_administration_statute"


def test_a_reused_batch_id_is_rejected_and_nothing_is_written(gateway: Gateway, tmp_path: Path) -> None:
    batch, man = write_batch(tmp_path / "in", REQUESTS)
    gateway.verify_batch(batch, man, tmp_path / "out", now=NOW)
    with pytest.raises(DuplicateBatchError, match="DHS-TEST-1"):
        gateway.verify_batch(batch, man, tmp_path / "out2", now=NOW)
    assert not (tmp_path / "out2").exists()


def test_a_record_count_that_disagrees_is_an_input_error(gateway: Gateway, tmp_path: Path) -> None:
    batch, man = write_batch(tmp_path / "in", REQUESTS, record_count=99)
    with pytest.raises(ManifestError, match="99"):
        gateway.verify_batch(batch, man, tmp_path / "out", now=NOW)
    assert not (tmp_path / "out").exists()


def test_decisions_are_byte_identical_for_the_same_inputs(gateway: Gateway, tmp_path: Path) -> None:
    batch, man = write_batch(tmp_path / "in", REQUESTS)
    first = gateway.verify_batch(batch, man, tmp_path / "out1", now=NOW)
    batch2, man2 = write_batch(tmp_path / "in2", REQUESTS, batch_id="DHS-TEST-2")
    second = gateway.verify_batch(batch2, man2, tmp_path / "out2", now=NOW)
    assert pl.read_parquet(first.decisions_path).equals(pl.read_parquet(second.decisions_path))
    assert first.response_path.read_bytes() == second.response_path.read_bytes()


def test_accounting_can_be_switched_off(gateway: Gateway, tmp_path: Path) -> None:
    gateway.settings = replace(gateway.settings, accounting=False)
    batch, man = write_batch(tmp_path / "in", REQUESTS)
    result = gateway.verify_batch(batch, man, tmp_path / "out", now=NOW)
    assert result.checkpoint is None


def test_a_court_order_basis_may_disclose_the_address_of_record(gateway: Gateway, tmp_path: Path) -> None:
    batch, man = write_batch(
        tmp_path / "in",
        REQUESTS,
        legal_basis="26 USC 6103(i)(1)",
        signed_by={"name": "Hon. A. Synthetic", "title": "United States Magistrate Judge"},
        court_order={
            "court": "D.D.C.",
            "docket": "1:26-mj-1",
            "judge": "Hon. A. Synthetic",
            "signed_on": "2026-11-01",
            "expires_on": "2027-01-01",
        },
        disclosure_profile="address_of_record",
    )
    result = gateway.verify_batch(batch, man, tmp_path / "out", now=NOW)
    response = pl.read_csv(result.response_path, infer_schema=False)
    by_id = {row["request_id"]: row for row in response.to_dicts()}
    # the agency learns the address of record only because the order's basis permits it
    assert (by_id["R1"]["street"], by_id["R1"]["zip"]) == ("9 Oak Avenue Apt 3", "61602")
    assert by_id["R2"]["street"] is None
    assert by_id["R4"]["street"] is None


def test_a_store_behind_this_versions_schema_is_refused_with_what_to_run(
    gateway: Gateway, tmp_path: Path, store_url: str
) -> None:
    command.downgrade(alembic_config(store_url), "0002")
    stale = Gateway(gateway.settings)
    try:
        batch, man = write_batch(tmp_path / "in", REQUESTS)
        with pytest.raises(StoreError, match=r"schema revision 0002.*custodes db upgrade"):
            stale.verify_batch(batch, man, tmp_path / "out", now=NOW)
        assert not (tmp_path / "out" / "response.csv").exists()
        upgrade(store_url)
        assert stale.verify_batch(batch, man, tmp_path / "out", now=NOW).requests == len(REQUESTS)
    finally:
        stale.close()


def test_the_batch_engine_normalises_a_batchs_subjects_once_for_budgets_and_linkage(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import custodes.gateway as gateway_module
    import custodes.link.engines.duckdb as engine_module
    from custodes.contract import read_manifest, read_requests
    from custodes.link.prepare import prepare_people

    batch, man = write_batch(tmp_path / "in", REQUESTS)
    frame = read_requests(batch)
    calls: list[int] = []

    def counted(people: pl.DataFrame, **kwargs: object) -> pl.DataFrame:
        calls.append(people.height)
        return prepare_people(people, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(gateway_module, "prepare_people", counted)
    monkeypatch.setattr(engine_module, "prepare_people", counted)
    seen: list[pl.DataFrame | None] = []
    screen_calls = 0

    def screen(frame: pl.DataFrame, refused: pl.Series, prepared: pl.DataFrame | None) -> pl.Series:
        nonlocal screen_calls
        screen_calls += 1
        seen.append(prepared)
        return pl.Series([None] * frame.height, dtype=pl.Utf8)

    decided, reason = gateway.decide_batch(read_manifest(man), frame, now=NOW, screen=screen, matcher=None)
    assert reason is None
    eligible = decided.filter(pl.col("outcome") != "refused").height
    # one normalisation: the rows the legal checks let through, handed to the budgets' screen
    assert calls == [eligible]
    assert screen_calls == 1
    assert seen[0] is not None
    assert seen[0].height == eligible
    # the decisions are those of the linker normalising the rows itself
    calls.clear()
    link = engine_module.DuckDBLinker.link

    def on_its_own(self: engine_module.DuckDBLinker, requests: pl.DataFrame, **kwargs: Any) -> Any:
        assert kwargs.pop("prepared") is not None
        return link(self, requests, **kwargs)

    monkeypatch.setattr(engine_module.DuckDBLinker, "link", on_its_own)
    itself, _ = gateway.decide_batch(read_manifest(man), frame, now=NOW, screen=screen, matcher=None)
    assert calls == [eligible, eligible]
    assert_frame_equal(decided, itself)
