"""Remediation: a deterministic replay from stored rows and the log, appended, never editing the past."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, select, update

from custodes import Gateway, LedgerError, Settings, UserInputError
from custodes.ledger import load_keys
from custodes.ledger.store import entry_range, head_size
from custodes.oversight.policy import load_policy, register_policy
from custodes.oversight.remediation import (
    mask_tin,
    record_remediation,
    replay,
    select_batches,
    stored_manifest,
    stored_requests,
)
from custodes.oversight.reports import remediation_report
from custodes.oversight.tables import findings
from custodes.store import connect
from custodes.store.schema import decisions
from custodes.synth import generate
from tests.oversight.conftest import NOW, decisions_of, submit

ROWS = [
    ["R1", "Anna", "", "Kowalski", "2001-05-05", "9 Oak Ave Apt 3", "Peoria", "IL", "61602", ""],
    ["R3", "Jose", "", "Garcia", "1975-11-30", "Failed to Provide", "Chicago", "IL", "60611", "523456789"],
    ["R6", "Bill", "", "Baker", "1955-09-09", "Unknown Address", "Urbana", "IL", "61801", ""],
    ["R8", "Maria", "", "Garcia", "1978-02-14", "", "Chicago", "IL", "60611", "623456789"],
]


@pytest.fixture
def weak(gateway: Gateway) -> Gateway:
    """The gateway running, as in 2025, with an address check that only tests for a blank street."""
    bases = {n: replace(r, address_check="not_blank") for n, r in gateway.settings.bases.items()}
    gateway.settings = replace(gateway.settings, bases=bases)
    return gateway


@pytest.fixture
def engine(gateway: Gateway) -> Engine:
    eng = connect(gateway.settings.store_url)
    yield eng  # type: ignore[misc]
    eng.dispose()


def _corrected(gateway: Gateway, engine: Engine) -> str:
    corrected = replace(
        gateway.settings,
        bases={n: replace(r, address_check="deliverable") for n, r in gateway.settings.bases.items()},
    )
    with engine.begin() as conn:
        return register_policy(conn, corrected, "placeholder ruling")


def test_replay_finds_the_placeholder_disclosures_and_is_appended_to_the_log(
    weak: Gateway, engine: Engine, tmp_path: Path
) -> None:
    first = decisions_of(submit(weak, tmp_path, "B-WEAK", ROWS))
    assert first["R3"]["outcome"] == "match"
    assert first["R6"]["outcome"] == "match"
    assert first["R8"]["reason"] == "missing_address", "the weak rule still refuses a blank street"
    version = _corrected(weak, engine)
    keys = load_keys(weak.settings.home, weak.settings.log_origin)
    with engine.connect() as conn:
        runs = [replay(weak, conn, policy=version, batch_id="B-WEAK", now=NOW, keys=keys) for _ in range(2)]
    assert runs[0].findings.equals(runs[1].findings), "the replay is deterministic"
    run = runs[0]
    assert sorted(run.findings["request_id"]) == ["R3", "R6"]
    assert set(run.findings["replay_reason"]) == {"placeholder_address"}
    assert (run.disclosures, run.affected, run.exposure_usd) == (3, 2, 2000)

    with engine.begin() as conn:
        size = head_size(conn)
        record_remediation(conn, keys, run)
    with engine.connect() as conn:
        (entry,) = [json.loads(d) for _, d in entry_range(conn, size, head_size(conn))]
        assert conn.execute(select(findings.c.tin).order_by(findings.c.request_id)).scalars().all() == [
            "523456789",
            "723456789",
        ]
        original = conn.execute(
            select(decisions.c.outcome).where(decisions.c.request_id == "R3")
        ).scalar_one()
    assert original == "match", "the past decision stays as it was"
    assert (entry["event"], entry["affected"], entry["exposure_usd"]) == ("remediation", 2, 2000)
    assert entry["findings_sha256"] == run.findings_sha256()
    assert "523456789" not in json.dumps(entry)

    report = remediation_report(run)
    assert [f["tin"] for f in report["findings"]] == ["***-**-6789", "***-**-6789"]
    assert report["by_agency"] == [
        {"agency": "Department of Homeland Security", "affected": 2, "taxpayers": 2, "exposure_usd": 2000}
    ]


def test_since_covers_every_later_batch_and_a_clean_batch_has_no_findings(
    weak: Gateway, engine: Engine, tmp_path: Path
) -> None:
    submit(weak, tmp_path, "B-OLD", ROWS[:2], now=NOW - timedelta(days=10))
    submit(weak, tmp_path, "B-1", ROWS[:2])
    submit(weak, tmp_path, "B-2", ROWS[:1], now=NOW + timedelta(hours=1))
    version = _corrected(weak, engine)
    keys = load_keys(weak.settings.home, weak.settings.log_origin)
    with engine.connect() as conn:
        run = replay(weak, conn, policy=version, since=NOW - timedelta(days=1), now=NOW, keys=keys)
    assert [b.batch_id for b in run.batches] == ["B-1", "B-2"]
    assert [b.affected for b in run.batches] == [1, 0]


def test_a_stored_decision_that_differs_from_the_log_stops_the_remediation(
    weak: Gateway, engine: Engine, tmp_path: Path
) -> None:
    submit(weak, tmp_path, "B-T", ROWS)
    version = _corrected(weak, engine)
    with engine.begin() as conn:
        conn.execute(
            update(decisions).where(decisions.c.request_id == "R3").values(outcome="no_match", tin=None)
        )
    keys = load_keys(weak.settings.home, weak.settings.log_origin)
    with engine.connect() as conn, pytest.raises(LedgerError, match="differs from the accounting log"):
        replay(weak, conn, policy=version, batch_id="B-T", now=NOW, keys=keys)


def test_bad_scopes_and_unknown_policies_say_what_to_do(
    weak: Gateway, engine: Engine, tmp_path: Path
) -> None:
    submit(weak, tmp_path, "B-X", ROWS[:1])
    version = _corrected(weak, engine)
    with engine.connect() as conn:
        with pytest.raises(UserInputError, match="not a stored policy version"):
            replay(weak, conn, policy="pol-nope", batch_id="B-X", now=NOW, keys=None)
        with pytest.raises(UserInputError, match="exactly one of --batch and --since"):
            replay(weak, conn, policy=version, batch_id="B-X", since=NOW, now=NOW, keys=None)
        with pytest.raises(UserInputError, match="no stored batch"):
            replay(weak, conn, policy=version, batch_id="B-NONE", now=NOW, keys=None)
        assert replay(weak, conn, policy=version[:10], batch_id="B-X", now=NOW, keys=None).affected == 0


def test_tins_are_masked_to_their_last_four_digits() -> None:
    assert (mask_tin("123-45-6789"), mask_tin(None), mask_tin("12")) == ("***-**-6789", "", "***-**-****")


def test_replaying_the_disclosures_alone_finds_what_deciding_the_whole_batch_again_finds(
    tmp_path: Path,
) -> None:
    """Replay decides only the past matches; on a hard synth batch that changes no finding."""
    data = tmp_path / "data"
    generate(4_000, 1_500, 5, data, "parquet")
    corrected = Settings(home=tmp_path / "home")
    weak = Gateway(
        replace(
            corrected,
            bases={n: replace(r, address_check="not_blank") for n, r in corrected.bases.items()},
        )
    )
    try:
        weak.init()
        weak.load_master(data / "master.parquet")
        result = weak.verify_batch(data / "requests.csv", data / "requests.manifest.json", tmp_path / "out")
        engine = connect(weak.settings.store_url)
        try:
            with engine.begin() as conn:
                version = register_policy(conn, corrected, "placeholder ruling")
            with engine.connect() as conn:
                run = replay(weak, conn, policy=version, batch_id=result.batch_id, now=NOW, keys=weak._keys())
                (batch,) = select_batches(conn, batch_id=result.batch_id, agency=None, since=None)
                whole, _ = weak.decide_batch(
                    stored_manifest(batch),
                    stored_requests(conn, batch.pk),
                    now=batch.received_at,
                    settings=load_policy(conn, weak.settings, version)[1],
                )
        finally:
            engine.dispose()
    finally:
        weak.close()
    original = pl.read_parquet(result.decisions_path).select("request_id", "outcome", "tin")
    expected = (
        original.filter(pl.col("outcome") == "match")
        .join(whole.select("request_id", "outcome", "reason", "tin"), on="request_id", suffix="_again")
        .filter((pl.col("outcome_again") != "match") | (pl.col("tin_again") != pl.col("tin")))
        .sort("request_id")
    )
    assert run.replayed == 1_500
    assert run.batches[0].seconds.keys() == {"read", "ledger_check", "decide"}
    assert expected.height > 0, "the weak check let placeholder requests match"
    assert run.affected == expected.height
    assert run.findings["request_id"].to_list() == expected["request_id"].to_list()
    assert run.findings["replay_outcome"].to_list() == expected["outcome_again"].to_list()
    assert run.findings["replay_reason"].to_list() == expected["reason"].to_list()
