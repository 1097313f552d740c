"""The side-by-side harness: peak measurement, scoring helpers and one small run end to end."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from custodes.bench.linkage import (
    febrl_targets,
    measured_stage,
    ratios,
    run_linkage_bench,
    synth_targets,
    wrongful_breakdown,
)
from custodes.bench.peak import read_peak_mib
from custodes.cli import app


def test_wrongful_breakdown(tmp_path: Path) -> None:
    truth = tmp_path / "truth.csv"
    pl.DataFrame(
        {
            "request_id": ["a", "b", "c", "d", "e"],
            "expected_outcome": ["match", "match", "no_match", "refused", "match"],
            "expected_reason": [None, None, None, "placeholder_address", None],
            "tin": ["111", "222", None, None, "555"],
            "address_status": ["current", "current", None, None, "current"],
            "category": ["x"] * 5,
            "tags": [""] * 5,
            "info_floor": ["false", "true", "false", "false", "false"],
        }
    ).write_csv(truth)
    decisions = tmp_path / "decisions.parquet"
    pl.DataFrame(
        {
            "request_id": ["a", "b", "c", "d", "e"],
            "outcome": ["match", "match", "match", "match", "no_match"],
            "reason": ["matched"] * 4 + ["below_threshold"],
            "tin": ["111", "999", "333", "444", None],
            "match_probability": [1.0, 1.0, 1.0, 1.0, 0.1],
            "address_status": ["current"] * 4 + [None],
        }
    ).write_parquet(decisions)
    assert wrongful_breakdown(truth, decisions) == {
        "refusable": 1,
        "not_on_file": 1,
        "other_taxpayer": 1,
        "in_info_floor": 1,
    }


def test_ratios_and_targets() -> None:
    ours = {"seconds": 10.0, "peak_rss_mib": 100.0, "wrongful_disclosures": 0, "recall": 0.95,
            "wrongful_rate": 0.0, "address_status_accuracy": 0.98, "precision": 1.0}  # fmt: skip
    theirs = {"seconds": 40.0, "peak_rss_mib": 200.0, "wrongful_disclosures": 70, "recall": 0.9}
    assert ratios(ours, theirs) == {"time": 0.25, "peak_rss": 0.5, "wrongful": 0.0, "recall": 1.0556}
    assert ratios(theirs, {**theirs, "wrongful_disclosures": 0})["wrongful"] is None
    assert all(synth_targets(ours, theirs).values())
    assert not synth_targets(ours, {**theirs, "seconds": 20.0})["time_at_most_third_of_splink"]
    assert febrl_targets(ours) == {"precision_1": True, "recall_at_least_0.99": False}


def test_measured_stage_records_the_child_own_peak(tmp_path: Path) -> None:
    run, wait4 = measured_stage(
        "platform", "platform", [], env=dict(os.environ), log=tmp_path / "log", peaks=tmp_path / "peaks"
    )
    assert run.returncode == 0
    own = read_peak_mib(tmp_path / "peaks" / "platform.json")
    assert own is not None
    assert 0 < run.peak_rss_mib == own <= wait4
    assert read_peak_mib(tmp_path / "missing.json") is None


def test_unknown_dataset_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown data set"):
        run_linkage_bench(100, 10, 1, tmp_path, tmp_path, datasets=["nope"])


def test_cli_lists_the_command() -> None:
    result = CliRunner().invoke(app, ["bench", "linkage", "--help"])
    assert result.exit_code == 0
    assert "--dataset" in result.output


@pytest.mark.slow
def test_small_synth_run_end_to_end(tmp_path: Path) -> None:
    results = tmp_path / "results"
    summary = run_linkage_bench(2000, 300, 3, tmp_path / "work", results, datasets=["synth"])
    written = sorted(p.name for p in results.iterdir())
    assert written == [
        "linkage-2000-300-s3-synth-custodes.json",
        "linkage-2000-300-s3-synth-splink.json",
        "linkage-2000-300-s3-synth-splink_margin.json",
        "linkage-2000-300-s3.json",
    ]
    entry = summary["datasets"]["synth"]  # type: ignore[index]
    systems = entry["systems"]
    for system in ("custodes", "splink", "splink_margin"):
        headline = systems[system]
        assert headline["seconds"] > 0
        assert headline["peak_rss_mib"] > 0
        assert 0 <= headline["recall"] <= 1
        assert (
            sum(headline["wrongful_breakdown"][k] for k in ("refusable", "not_on_file", "other_taxpayer"))
            == (headline["wrongful_disclosures"])
        )
    assert systems["splink"]["seconds"] == systems["splink_margin"]["seconds"]
    assert systems["custodes"]["outcome_counts"]["refused"] > 0
    assert systems["splink"]["outcome_counts"]["refused"] == 0  # Splink refuses nothing
    assert set(entry["ratios_custodes_over"]) == {"splink", "splink_margin"}
    assert "wrongful_rate_at_most_0.1pct" in entry["targets"]
    custodes_report = json.loads((results / "linkage-2000-300-s3-synth-custodes.json").read_text())
    assert [s["stage"] for s in custodes_report["stages"]] == ["synth", "init", "master_load", "verify"]
    assert custodes_report["seconds"] == round(
        sum(s["seconds"] for s in custodes_report["stages"] if s["stage"] in {"master_load", "verify"}), 2
    )
    assert sys.executable  # the children ran under this interpreter
