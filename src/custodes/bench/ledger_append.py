"""Micro benchmark: the gateway's ledger append alone, for one batch of N decisions.

This is the work accounting adds to ``custodes verify``: from the decisions frame the
gateway holds, through ``Gateway._entries`` and ``append_batch``, to the durable commit.
The store is fresh; ``--repeats`` batches are appended one after the other (the log grows)
and the median is reported, with the process CPU time, which other load on the machine
disturbs less than the wall time.

Run it with ``python -m custodes.bench.ledger_append [--decisions N] [--repeats R]
[--database-url URL]``; it prints one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import polars as pl

from custodes.gateway import Gateway
from custodes.ledger import append_batch, create_keys, load_keys
from custodes.store import connect, upgrade

ORIGIN = "bench.custodes.example/log"


def decisions_frame(count: int) -> pl.DataFrame:
    """Decisions as the gateway holds them before the commit: three in four matched."""
    matched = [i % 4 != 0 for i in range(count)]
    return pl.DataFrame(
        {
            "request_id": [f"R{i:08d}" for i in range(count)],
            "outcome": ["match" if m else "no_match" for m in matched],
            "reason": ["matched" if m else "no_candidate" for m in matched],
            "tin": [f"{(i * 7919) % 1_000_000_000:09d}" if m else None for i, m in enumerate(matched)],
            "response_sha256": [hashlib.sha256(str(i).encode()).hexdigest() for i in range(count)],
        }
    )


def _manifest(batch_id: str) -> SimpleNamespace:
    # The manifest fields the gateway's accounting reads.
    return SimpleNamespace(
        batch_id=batch_id,
        agency="Department of Homeland Security",
        legal_basis="26 USC 6103(i)(2)",
        statutory_authority="8 USC 1253(a)(1)",
        sha256="0" * 64,
        disclosure_profile="verify_only",
        signed_by=SimpleNamespace(name="Bench Signer", title="Secretary of Homeland Security"),
    )


def run_append_bench(count: int, repeats: int, database_url: str | None = None) -> dict[str, object]:
    """Append ``repeats`` batches of ``count`` decisions the way the gateway does; medians."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="custodes-append-bench-") as scratch:
        home = Path(scratch)
        create_keys(home, ORIGIN)
        keys = load_keys(home, ORIGIN)
        url = database_url or f"sqlite:///{home / 'store.sqlite'}"
        upgrade(url)
        engine = connect(url)
        frame = decisions_frame(count)
        runs: list[dict[str, float]] = []
        try:
            for n in range(repeats):
                manifest = _manifest(f"BENCH-{n}")
                now = datetime.now(UTC)
                wall, cpu = time.perf_counter(), time.process_time()
                with engine.begin() as conn:
                    entries = Gateway._entries(manifest, frame, now)  # type: ignore[arg-type]
                    append_batch(conn, keys, Gateway._batch_entry(manifest, None, now), entries)  # type: ignore[arg-type]
                runs.append(
                    {
                        "seconds": round(time.perf_counter() - wall, 3),
                        "cpu_seconds": round(time.process_time() - cpu, 3),
                    }
                )
        finally:
            engine.dispose()
    return {
        "benchmark": "ledger_append",
        "decisions": count,
        "store": engine.url.get_backend_name(),
        "runs": runs,
        "median_seconds": statistics.median(r["seconds"] for r in runs),
        "median_cpu_seconds": statistics.median(r["cpu_seconds"] for r in runs),
        "load_average_1m_before_and_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def main() -> None:
    """Command line for ``python -m custodes.bench.ledger_append``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="an empty store (default: SQLite in scratch)")
    args = parser.parse_args()
    print(json.dumps(run_append_bench(args.decisions, args.repeats, args.database_url)))


if __name__ == "__main__":
    main()
