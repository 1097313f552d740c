"""The online benchmark runs end to end at a tiny size and reports what it measured."""

from __future__ import annotations

import json
from pathlib import Path

from custodes.bench.online import _percentiles, run_online_bench


def test_percentiles_are_in_milliseconds_and_ordered() -> None:
    got = _percentiles([i / 1000 for i in range(1, 101)])
    assert got == {"p50_ms": 51.0, "p90_ms": 91.0, "p99_ms": 100.0, "max_ms": 100.0}


def test_a_tiny_run_writes_its_report(tmp_path: Path) -> None:
    report = run_online_bench(400, 2, tmp_path / "work", tmp_path / "results", rate=40, clients=4, seconds=1)
    written = json.loads((tmp_path / "results" / "online-400-s2.json").read_text())
    assert written == report
    phases = report["phases"]
    assert isinstance(phases, dict)
    for phase in ("gateway_accounted", "gateway_unaccounted"):
        assert phases[phase]["requests"] == 40
        assert phases[phase]["errors"] == 0
        assert 0 < phases[phase]["p50_ms"] <= phases[phase]["p99_ms"]
    assert phases["engine_decide_one"]["requests"] == 40
    assert [s["stage"] for s in report["stages"]] == ["synth", "init", "master_load"]
