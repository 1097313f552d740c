"""The oversight benchmark's code, proven at small scale (the full size runs under `make bench`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from custodes.bench.oversight import run_oversight_bench


def test_the_oversight_bench_runs_at_small_scale(tmp_path: Path) -> None:
    messages: list[str] = []
    report = run_oversight_bench(
        20_000, 2_000, 300, tmp_path / "work", tmp_path / "results", messages.append, batch_size=6_000
    )
    aggregate, replay = report["aggregate"], report["replay"]
    assert aggregate["entries"] == 20_000
    assert aggregate["batches"] == 4
    assert aggregate["requests"] == 20_000 - 4, "every entry but the batch seals is a decision"
    assert aggregate["ledger_mismatches"] == 0
    assert aggregate["report_seconds"] > 0
    assert replay["replayed"] == 300
    assert 0 < replay["affected"] < replay["disclosures"], "the weak check let placeholder requests match"
    assert replay["exposure_usd"] == 1000 * replay["affected"]
    written = json.loads((tmp_path / "results" / "oversight-20000-300.json").read_text())
    assert written["replay"]["affected"] == replay["affected"]
    assert any("filled" in m for m in messages)


def test_one_part_runs_alone_and_writes_its_own_file(tmp_path: Path) -> None:
    report = run_oversight_bench(
        10_000, 2_000, 200, tmp_path / "work", tmp_path / "results", parts=("replay",)
    )
    assert "aggregate" not in report
    assert report["replay"]["replayed"] == 200
    assert set(report["replay"]["replay_stage_seconds"]) == {"read", "ledger_check", "decide"}
    assert report["replay"]["replay_cpu_seconds"] > 0
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["oversight-replay-2000-200.json"]
    with pytest.raises(ValueError, match="unknown oversight bench parts"):
        run_oversight_bench(10, 10, 10, tmp_path / "w2", tmp_path / "r2", parts=("everything",))
