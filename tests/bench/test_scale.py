"""``custodes bench scale``: the stages, the targets, the JSON and the table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from custodes.bench.pipeline import StageRun
from custodes.bench.scale import RECALL_1M, recall_floor, run_scale_bench, scale_targets, stage_table
from custodes.cli import app


def test_targets_are_strict_limits() -> None:
    assert all(scale_targets(299.0, 8000.0, 0.95, 0.941).values())
    missed = scale_targets(300.0, 8192.0, 0.94, 0.941)
    assert missed == {
        "load_plus_verify_under_5_minutes": False,
        "peak_rss_under_8_gib": False,
        "recall_at_least_1m_minus_0.02": False,
    }


def test_recall_floor_reads_the_1m_result(tmp_path: Path) -> None:
    assert recall_floor(tmp_path) == (round(RECALL_1M - 0.02, 4), "docs/linkage.md (1M / 100k, seed 1)")
    (tmp_path / "pipeline-1000000-100000-s1.json").write_text(json.dumps({"quality": {"recall": 0.95}}))
    floor, source = recall_floor(tmp_path)
    assert floor == 0.93
    assert source.endswith("pipeline-1000000-100000-s1.json")
    # the side-by-side linkage run at 1M is preferred: it is the figure issue 3 reports
    linkage = {"quality": {"recall": 0.9794}}
    (tmp_path / "linkage-1000000-100000-s1-synth-custodes.json").write_text(json.dumps(linkage))
    floor, source = recall_floor(tmp_path)
    assert floor == 0.9594
    assert source.endswith("linkage-1000000-100000-s1-synth-custodes.json")


def test_table_sums_load_and_verify() -> None:
    stages = [StageRun("init", 1.0, 100.0, 0), StageRun("master_load", 10.0, 900.0, 0),
              StageRun("verify", 5.5, 700.0, 0)]  # fmt: skip
    console = Console(record=True, width=120)
    console.print(stage_table(stages, {"master_load": 950.0}))
    text = console.export_text()
    assert "load + verify" in text
    assert "15.5" in text
    assert "950" in text


def test_cli_lists_the_command() -> None:
    result = CliRunner().invoke(app, ["bench", "scale", "--help"])
    assert result.exit_code == 0
    assert "--persons" in result.output


@pytest.mark.slow
def test_small_scale_run_end_to_end(tmp_path: Path) -> None:
    results = tmp_path / "results"
    console = Console(record=True, width=120)
    report = run_scale_bench(2000, 300, 3, tmp_path / "work", results, console=console)
    assert [s["stage"] for s in report["stages"]] == ["synth", "init", "master_load", "verify"]  # type: ignore[index]
    assert all(s["returncode"] == 0 and s["peak_rss_mib"] > 0 for s in report["stages"])  # type: ignore[union-attr]
    assert report["load_plus_verify_seconds"] == round(
        sum(s["seconds"] for s in report["stages"] if s["stage"] in {"master_load", "verify"}),
        2,  # type: ignore[union-attr]
    )
    assert set(report["targets"]) == {  # type: ignore[arg-type]
        "load_plus_verify_under_5_minutes", "peak_rss_under_8_gib", "recall_at_least_1m_minus_0.02"
    }  # fmt: skip
    assert report["at_target_scale"] is False
    assert report["quality"]["n_requests"] == 300  # type: ignore[index]
    written = json.loads((results / "scale-2000-300-s3.json").read_text())
    assert written["load_average_1_5_15"]["start"]
    assert "load + verify" in console.export_text()
