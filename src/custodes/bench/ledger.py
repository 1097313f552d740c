"""The accounting-log benchmark: append throughput, a 1.28M-decision batch, proofs at scale.

Everything runs against a durable SQLite store (WAL, synchronous=FULL at commit) in a
scratch directory, through the same ``append_batch`` the gateway calls, with the decisions
built beforehand as the gateway does: the time is the ledger's (encoding, commitments,
hashing, tiles, inserts, signing and the durable commit), not the caller's.

Run it with ``python -m custodes.bench.ledger [--out bench/results] [--proof-log-size N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from custodes.ledger import DecisionColumns, LedgerKeys, append_batch, create_keys, load_keys, prove_index
from custodes.ledger.proof import consistency_proof, inclusion_proof
from custodes.ledger.store import StoredTiles
from custodes.store import connect, upgrade

ORIGIN = "bench.custodes.example/log"


def decisions(batch: str, count: int, at: datetime) -> DecisionColumns:
    """Realistic decisions, as the gateway hands them over: three in four matched (with a TIN)."""
    matched = [i % 4 != 0 for i in range(count)]
    return DecisionColumns(
        batch_id=batch,
        agency="Department of Homeland Security",
        basis="26 USC 6103(i)(2)",
        profile="verify_only",
        at=at,
        request_ids=[f"{batch}-R{i:08d}" for i in range(count)],
        outcomes=["match" if m else "no_match" for m in matched],
        reasons=["matched" if m else "no_candidate" for m in matched],
        disclosed_sha256=[hashlib.sha256(f"{batch}/{i}".encode()).hexdigest() for i in range(count)],
        tins=[f"{(i * 7919) % 1_000_000_000:09d}" if m else None for i, m in enumerate(matched)],
    )


def _batch_entry(batch: str, at: datetime) -> dict[str, object]:
    return {
        "batch_id": batch,
        "agency": "Department of Homeland Security",
        "basis": "26 USC 6103(i)(2)",
        "manifest_sha256": hashlib.sha256(batch.encode()).hexdigest(),
        "signer": {"name": "Bench Signer", "title": "Secretary of Homeland Security"},
        "at": at,
    }


def _append(engine: Engine, keys: LedgerKeys, batch: str, count: int) -> dict[str, float]:
    at = datetime.now(UTC)
    # Built beforehand, as the gateway hands over a list: only the append is timed.
    batch_decisions = decisions(batch, count, at)
    started = time.perf_counter()
    with engine.begin() as conn:
        checkpoint = append_batch(conn, keys, _batch_entry(batch, at), batch_decisions)
    seconds = time.perf_counter() - started
    return {
        "decisions": count,
        "entries": count + 1,
        "seconds": round(seconds, 3),
        "entries_per_second": round((count + 1) / seconds),
        "tree_size_after": checkpoint.size,
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def _proof_times(engine: Engine, size: int, samples: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    inclusion_ms: list[float] = []
    bundle_ms: list[float] = []
    consistency_ms: list[float] = []
    lengths: list[int] = []
    with engine.connect() as conn:
        reader = StoredTiles(conn)
        for _ in range(samples):
            index = rng.randrange(size)
            started = time.perf_counter()
            proof = inclusion_proof(index, size, reader)
            inclusion_ms.append((time.perf_counter() - started) * 1000)
            lengths.append(len(proof))
            started = time.perf_counter()
            prove_index(conn, ORIGIN, index)
            bundle_ms.append((time.perf_counter() - started) * 1000)
            old = rng.randrange(1, size)
            started = time.perf_counter()
            consistency_proof(old, size, reader)
            consistency_ms.append((time.perf_counter() - started) * 1000)

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "p50_ms": round(statistics.median(values), 3),
            "p99_ms": round(_percentile(values, 0.99), 3),
            "max_ms": round(max(values), 3),
        }

    return {
        "tree_size": size,
        "samples": samples,
        "inclusion_proof": summary(inclusion_ms),
        "prove_bundle_with_entry_and_checkpoint": summary(bundle_ms),
        "consistency_proof": summary(consistency_ms),
        "inclusion_proof_hashes": {"min": min(lengths), "max": max(lengths)},
        "ceil_log2_size": math.ceil(math.log2(size)),
    }


def run_ledger_bench(
    out_dir: Path,
    *,
    batch_size: int = 100_000,
    batches: int = 5,
    big_batch: int = 1_280_000,
    proof_log_size: int = 10_000_000,
    proof_samples: int = 1_000,
    scratch: Path | None = None,
) -> dict[str, object]:
    """Measure the log on durable SQLite and write ``ledger.json`` under ``out_dir``.

    1. ``batches`` appends of ``batch_size`` decisions into a fresh store;
    2. one batch of ``big_batch`` decisions (the 1.28M-request accounting);
    3. more ``big_batch`` appends until the log holds ``proof_log_size`` entries, then
       ``proof_samples`` random inclusion and consistency proofs: p50/p99 and hash counts.
    """
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="custodes-ledger-bench-", dir=scratch))
    try:
        home = work / "home"
        url = f"sqlite:///{work / 'ledger.sqlite'}"
        upgrade(url)
        create_keys(home, ORIGIN)
        keys = load_keys(home, ORIGIN)
        engine = connect(url)
        try:
            small = [_append(engine, keys, f"S{n}", batch_size) for n in range(batches)]
            big = _append(engine, keys, "BIG", big_batch)
            fill: list[dict[str, float]] = []
            size = int(big["tree_size_after"])
            while size < proof_log_size:
                count = min(big_batch, proof_log_size - size - 1)
                fill.append(_append(engine, keys, f"F{len(fill)}", count))
                size = int(fill[-1]["tree_size_after"])
            proofs = _proof_times(engine, size, proof_samples, seed=7)
        finally:
            engine.dispose()
        database_bytes = sum(p.stat().st_size for p in work.glob("ledger.sqlite*"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total_entries = sum(r["entries"] for r in small)
    total_seconds = sum(r["seconds"] for r in small)
    result: dict[str, object] = {
        "benchmark": "ledger",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            # Other work on the machine slows every figure; this says how busy it was.
            "load_average_1m_before_and_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        },
        "store": "SQLite, WAL, synchronous=FULL (durable at every commit)",
        "append": {
            "batches": small,
            "entries_per_second": round(total_entries / total_seconds),
        },
        "big_batch": big,
        "fill_to_proof_size": fill,
        "proofs": proofs,
        "database_bytes_at_proof_size": database_bytes,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "ledger.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def main() -> None:
    """Command line for ``python -m custodes.bench.ledger``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--batch-size", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--big-batch", type=int, default=1_280_000)
    parser.add_argument("--proof-log-size", type=int, default=10_000_000)
    parser.add_argument("--proof-samples", type=int, default=1_000)
    parser.add_argument("--scratch", type=Path, default=None, help="where the scratch store goes")
    args = parser.parse_args()
    result = run_ledger_bench(
        args.out,
        batch_size=args.batch_size,
        batches=args.batches,
        big_batch=args.big_batch,
        proof_log_size=args.proof_log_size,
        proof_samples=args.proof_samples,
        scratch=args.scratch,
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
