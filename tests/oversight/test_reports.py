"""The reports as data and as pages: per taxpayer with proofs, aggregate with shares, per batch with evidence."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete
from typer.testing import CliRunner

from custodes import Gateway, UserInputError
from custodes.cli import _mount_optional, app
from custodes.ledger import load_keys
from custodes.oversight.render import render, to_csv
from custodes.oversight.reports import aggregate_report, batch_report, taxpayer_report
from custodes.oversight.svg import bar_chart, stacked_bar
from custodes.store import connect
from custodes.store.schema import decisions
from tests.oversight.conftest import NOW, submit

ROWS = [
    ["R1", "Anna", "", "Kowalski", "2001-05-05", "9 Oak Ave Apt 3", "Peoria", "IL", "61602", ""],
    ["R2", "John", "Q", "Smith", "", "12 Elm St", "Springfield", "IL", "62701", ""],
    ["R3", "Jose", "", "Garcia", "1975-11-30", "Failed to Provide", "Chicago", "IL", "60611", "523456789"],
    ["R4", "Carlos", "", "Garcia", "2008-04-04", "77 Lake Shore Dr Unit 9", "Chicago", "IL", "60611", ""],
]
DOJ_SIGNER = {"name": "A. Synthetic", "title": "Attorney General"}


@pytest.fixture
def engine(gateway: Gateway, tmp_path: Path) -> Engine:
    submit(gateway, tmp_path, "B-1", ROWS)
    submit(gateway, tmp_path, "B-2", ROWS[:1], now=NOW + timedelta(hours=1))
    submit(gateway, tmp_path, "B-TAX", ROWS, now=NOW + timedelta(hours=2), statutory_authority="26 USC 7201")
    submit(gateway, tmp_path, "J-1", ROWS[:2], now=NOW + timedelta(hours=3), agency="Department of Justice",
           signed_by=DOJ_SIGNER, statutory_authority="18 USC 1028A")  # fmt: skip
    eng = connect(gateway.settings.store_url)
    yield eng  # type: ignore[misc]
    eng.dispose()


def test_the_taxpayer_report_lists_every_act_with_a_verified_proof(gateway: Gateway, engine: Engine) -> None:
    keys = load_keys(gateway.settings.home, gateway.settings.log_origin)
    with engine.connect() as conn:
        report = taxpayer_report(conn, keys, "323456789")
    assert report["taxpayer"] == "***-**-6789"
    assert [(a["batch_id"], a["outcome"]) for a in report["acts"]] == [
        ("B-1", "match"),
        ("B-2", "match"),
        ("J-1", "match"),
    ]
    assert all(a["proof_verified"] for a in report["acts"])
    assert report["disclosures"] == 3
    assert report["acts"][2]["agency"] == "Department of Justice"
    page = render(report, "html")
    assert "323456789" not in page
    assert "323456789" not in render(report, "json")
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert [r["request_id"] for r in rows] == ["R1", "R1", "R1"]


def test_the_aggregate_report_breaks_requests_down_with_refusal_shares(engine: Engine) -> None:
    with engine.connect() as conn:
        report = aggregate_report(conn, NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert (report["batches"], report["requests"]) == (4, 11)
    agencies = {a["name"]: a for a in report["by_agency"]}
    assert agencies["Department of Justice"]["requests"] == 2
    reasons = {r["reason"]: r for r in report["refusal_reasons"]}
    assert reasons["tax_administration_statute"]["requests"] == 4
    assert reasons["tax_administration_statute"]["scope"] == "batch"
    assert reasons["placeholder_address"]["requests"] == 1
    assert report["refused"] == 5
    assert report["refused_share"] == pytest.approx(5 / 11, abs=1e-6)
    statutes = {s["name"]: s for s in report["by_statute"]}
    assert statutes["26 USC 7201"]["refused_share"] == 1.0
    assert sum(o["share"] for o in report["by_outcome"]) == pytest.approx(1.0, abs=1e-5)
    assert report["ledger_check"]["mismatched"] == []
    page = render(report, "html")
    assert page.count("<svg") >= 5
    assert "<script" not in page
    with engine.connect() as conn:
        empty = aggregate_report(conn, NOW + timedelta(days=5), NOW + timedelta(days=6))
        with pytest.raises(UserInputError, match="the period is empty"):
            aggregate_report(conn, NOW, NOW)
    assert (empty["requests"], empty["refused_share"]) == (0, 0.0)


def test_a_store_that_lost_a_decision_disagrees_with_the_log(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(decisions).where(decisions.c.request_id == "R4"))
    with engine.connect() as conn:
        report = aggregate_report(conn, NOW - timedelta(days=1), NOW + timedelta(days=1), patterns=False)
    mismatched = {(m["batch_id"], m["stored"], m["sealed"]) for m in report["ledger_check"]["mismatched"]}
    assert mismatched == {("B-1", 3, 4), ("B-TAX", 3, 4)}


def test_the_batch_report_shows_checks_counts_and_evidence_with_masked_tins(
    gateway: Gateway, engine: Engine
) -> None:
    with engine.connect() as conn:
        report = batch_report(conn, gateway.settings, "B-1")
        refused_whole = batch_report(conn, gateway.settings, "B-TAX")
    assert all(c["passed"] for c in report["legal_checks"])
    assert report["policy_version"].startswith("pol-")
    assert report["sealed_in_log"] == 4
    review = {r["request_id"]: r for r in report["review"]}
    assert set(review) == {"R2", "R3"}, "ambiguous and refused rows only (R4 is a no_match)"
    assert (review["R3"]["reason"], review["R3"]["tin"], review["R3"]["street"]) == (
        "placeholder_address", "***-**-6789", "Failed to Provide",
    )  # fmt: skip
    assert review["R2"]["outcome"] == "ambiguous"
    assert "523456789" not in render(report, "html") + render(report, "csv") + render(report, "json")
    failed = [c["element"] for c in refused_whole["legal_checks"] if not c["passed"]]
    assert failed == ["tax_administration_statute"]
    assert refused_whole["review"] == []


def test_svg_charts_escape_their_labels_and_handle_no_data() -> None:
    chart = bar_chart("a <b> & c", [("<script>", 3), ("x" * 60, 1.5)])
    assert "<script>" not in chart
    assert "&lt;script&gt;" in chart
    assert "…" in chart
    assert "nothing in this period" in bar_chart("empty", [])
    assert "50.0%" in stacked_bar("s", [("a", 1), ("b", 1)])


def test_report_commands_write_each_format_and_refuse_a_bad_date(
    gateway: Gateway, engine: Engine, tmp_path: Path
) -> None:
    _mount_optional()
    env = {"CUSTODES_HOME": str(gateway.settings.home), "CUSTODES_DATABASE_URL": gateway.settings.store_url}
    runner = CliRunner()
    for fmt in ("json", "csv", "html"):
        target = tmp_path / f"agg.{fmt}"
        result = runner.invoke(
            app, ["report", "aggregate", "--from", "2026-11-24", "--to", "2026-11-26", "--format", fmt, "--out",
                  str(target)], env=env,
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        assert target.stat().st_size > 0
    assert json.loads((tmp_path / "agg.json").read_text())["requests"] == 11
    result = runner.invoke(app, ["report", "taxpayer", "--tin", "323456789", "--format", "json"], env=env)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["taxpayer"] == "***-**-6789"
    result = runner.invoke(app, ["report", "batch", "--batch", "B-1", "--format", "csv"], env=env)
    assert re.search(r"R3,refused,placeholder_address", result.stdout)
    result = runner.invoke(app, ["budget", "show", "--agency", "Department of Homeland Security",
                                 "--since", "2026-11-01", "--format", "json"], env=env)  # fmt: skip
    assert json.loads(result.stdout)["repeated_subjects"][0]["queries"] >= 2
    result = runner.invoke(app, ["report", "aggregate", "--from", "yesterday", "--to", "2026-11-26"], env=env)
    assert isinstance(result.exception, UserInputError)
    assert "--from" in str(result.exception)
