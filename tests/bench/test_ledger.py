"""The accounting-log benchmarks, run small: they measure the gateway's own append path."""

from __future__ import annotations

import json
from pathlib import Path

from custodes.bench.ledger import run_ledger_bench
from custodes.bench.ledger_append import run_append_bench


def test_the_ledger_bench_appends_proves_and_writes_its_json(tmp_path: Path) -> None:
    result = run_ledger_bench(
        tmp_path,
        batch_size=50,
        batches=2,
        big_batch=100,
        proof_log_size=400,
        proof_samples=10,
        scratch=tmp_path,
    )
    assert json.loads((tmp_path / "ledger.json").read_text()) == result
    assert [b["tree_size_after"] for b in result["append"]["batches"]] == [51, 102]  # type: ignore[index]
    proofs = result["proofs"]
    assert proofs["tree_size"] == 400  # type: ignore[index]
    assert proofs["inclusion_proof_hashes"]["max"] <= proofs["ceil_log2_size"] == 9  # type: ignore[index]


def test_the_append_micro_bench_runs_the_gateway_path_on_either_store(store_url: str) -> None:
    result = run_append_bench(300, 3, store_url)
    assert (result["decisions"], len(result["runs"])) == (300, 3)  # type: ignore[arg-type]
    assert result["store"] == store_url.split(":", maxsplit=1)[0].split("+", maxsplit=1)[0]
    assert result["median_seconds"] > 0
