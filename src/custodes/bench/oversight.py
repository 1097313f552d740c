"""The oversight benchmark: the aggregate report over N accounting entries, and a batch replay.

1. **Aggregate.** A durable SQLite store is filled with batches of 100,000 decisions each,
   every batch both in the operational tables and sealed in the accounting log through the
   same ``append_batch`` the gateway calls, until the log holds N entries. The timed part is
   ``aggregate_report`` over the whole period, including its check of every batch against
   its sealed count in the log. Target: N = 10M in under 10 s.
2. **Replay.** ``custodes synth`` makes a master of P persons and a batch of M requests; the
   batch is verified under a policy with the weak (``not_blank``) address check, then
   replayed under the corrected policy. The timed part is ``replay`` (stored rows and
   manifest, the log cross-check, legal checks and linkage). Target: M = 100k in under 30 s.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from custodes.config import Settings
from custodes.gateway import Gateway
from custodes.ledger import DecisionEntry, append_batch, create_keys, load_keys
from custodes.oversight.policy import register_policy
from custodes.oversight.remediation import replay
from custodes.oversight.reports import aggregate_report
from custodes.store import connect, upgrade
from custodes.store.schema import batches
from custodes.synth import generate

BATCH_SIZE = 100_000
AGENCIES = ("Department of Homeland Security", "Department of Justice")
BASES = ("26 USC 6103(i)(2)", "26 USC 6103(i)(1)")
STATUTES = ("8 USC 1253(a)(1)", "8 USC 1326", "18 USC 1028A")
OUTCOMES = (
    ("match", "matched", 60),
    ("no_match", "no_candidate", 20),
    ("ambiguous", "several_candidates", 2),
    ("refused", "placeholder_address", 8),
    ("refused", "missing_address", 4),
    ("refused", "invalid_tin", 3),
    ("refused", "missing_name", 2),
    ("refused", "query_budget_exceeded", 1),
)
WHEN = datetime(2026, 1, 1, tzinfo=UTC)
ORIGIN = "bench.custodes.example/log"
DECISION_COLUMNS = "(batch_pk, request_id, outcome, reason, tin, response_sha256)"
Progress = Callable[[str], None]


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0],
    }


def _decisions(
    batch_id: str, agency: str, basis: str, n: int, at: datetime
) -> Iterator[tuple[DecisionEntry, Any]]:
    rng = random.Random(batch_id)
    weights = [w for _, _, w in OUTCOMES]
    for i in range(n):
        outcome, reason, _ = rng.choices(OUTCOMES, weights)[0]
        tin = f"{100_000_000 + (i * 7919) % 800_000_000:09d}" if outcome == "match" else None
        digest = hashlib.sha256(f"{batch_id}/{i}".encode()).hexdigest()
        entry = DecisionEntry(
            batch_id, f"R{i:08d}", agency, basis, outcome, reason, "verify_only", digest, tin, at
        )
        yield entry, (f"R{i:08d}", outcome, reason, tin, digest)


def fill_store(
    url: str, home: Path, entries: int, progress: Progress, batch_size: int = BATCH_SIZE
) -> tuple[int, int]:
    """Fill store and log with batches of ``BATCH_SIZE`` decisions to ``entries``; (batches, entries)."""
    upgrade(url)
    create_keys(home, ORIGIN)
    keys = load_keys(home, ORIGIN)
    engine = connect(url)
    written = count = 0
    try:
        while written < entries:
            n = min(batch_size, entries - written - 1) or 1
            agency, basis, statute = AGENCIES[count % 2], BASES[count % 2], STATUTES[count % 3]
            batch_id = f"BENCH-{count:05d}"
            at = WHEN + timedelta(hours=count)
            pairs = list(_decisions(batch_id, agency, basis, n, at))
            with engine.begin() as conn:
                pk = conn.execute(
                    insert(batches).values(
                        batch_id=batch_id,
                        agency=agency,
                        legal_basis=basis,
                        status="decided",
                        manifest_json=json.dumps(
                            {
                                "batch_id": batch_id,
                                "agency": agency,
                                "legal_basis": basis,
                                "statutory_authority": statute,
                            }
                        ),
                        manifest_sha256="0" * 64,
                        requests_sha256="0" * 64,
                        record_count=n,
                        received_at=at,
                        completed_at=at,
                    )
                ).inserted_primary_key
                assert pk is not None
                marks = ", ".join(["?" if conn.dialect.paramstyle == "qmark" else "%s"] * 6)
                sql = f"INSERT INTO decisions {DECISION_COLUMNS} VALUES ({marks})"  # noqa: S608 - constants
                conn.exec_driver_sql(
                    sql,
                    [(int(pk[0]), *row) for _, row in pairs],
                )
                entry = {"kind": "batch", "batch_id": batch_id, "agency": agency, "basis": basis, "at": at}
                append_batch(conn, keys, entry, (d for d, _ in pairs))
            written += n + 1
            count += 1
            progress(f"filled {written:,} of {entries:,} entries")
    finally:
        engine.dispose()
    return count, written


def bench_aggregate(
    entries: int, workdir: Path, progress: Progress, batch_size: int = BATCH_SIZE
) -> dict[str, Any]:
    """Fill a store to ``entries`` log entries and time the aggregate report over all of it."""
    home = workdir / "aggregate"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    url = f"sqlite:///{(home / 'custodes.sqlite').resolve()}"
    started = time.perf_counter()
    count, written = fill_store(url, home, entries, progress, batch_size)
    fill_seconds = time.perf_counter() - started
    engine = connect(url)
    try:
        with engine.connect() as conn:
            started = time.perf_counter()
            report = aggregate_report(conn, WHEN, WHEN + timedelta(days=3650))
            seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    return {
        "entries": written,
        "batches": count,
        "requests": report["requests"],
        "fill_seconds": round(fill_seconds, 1),
        "report_seconds": round(seconds, 3),
        "target_seconds": 10,
        "ledger_mismatches": len(report["ledger_check"]["mismatched"]),
        "refused_share": report["refused_share"],
    }


def bench_replay(persons: int, requests: int, workdir: Path, progress: Progress) -> dict[str, Any]:
    """Verify a synth batch under the weak address rule, then time its replay under the corrected one."""
    base = workdir / "replay"
    shutil.rmtree(base, ignore_errors=True)
    data = base / "data"
    progress(f"synthesising {persons:,} persons and {requests:,} requests")
    generate(persons, requests, 1, data, "parquet")
    corrected = Settings(home=base / "home")
    weak_bases = {name: replace(rule, address_check="not_blank") for name, rule in corrected.bases.items()}
    weak = replace(corrected, bases=weak_bases)
    gateway = Gateway(weak)
    timings: dict[str, float] = {}
    try:
        gateway.init()
        progress("loading the master file")
        started = time.perf_counter()
        gateway.load_master(data / "master.parquet")
        timings["master_load_seconds"] = time.perf_counter() - started
        progress("verifying under the weak address check")
        started = time.perf_counter()
        result = gateway.verify_batch(data / "requests.csv", data / "requests.manifest.json", base / "out")
        timings["verify_seconds"] = time.perf_counter() - started
        engine = connect(weak.store_url)
        try:
            with engine.begin() as conn:
                version = register_policy(conn, corrected, "corrected address check")
            progress("replaying under the corrected policy")
            load_before = os.getloadavg()[0]
            with engine.connect() as conn:
                keys = gateway._keys()
                started, cpu = time.perf_counter(), time.process_time()
                run = replay(
                    gateway, conn, policy=version, batch_id=result.batch_id, now=datetime.now(UTC), keys=keys
                )
                timings["replay_seconds"] = time.perf_counter() - started
                timings["replay_cpu_seconds"] = time.process_time() - cpu
        finally:
            engine.dispose()
    finally:
        gateway.close()
    return {
        "persons": persons,
        "requests": requests,
        "replayed": run.replayed,
        "disclosures": run.disclosures,
        "affected": run.affected,
        "exposure_usd": run.exposure_usd,
        "target_seconds": 30,
        **{k: round(v, 2) for k, v in timings.items()},
        "replay_stage_seconds": run.batches[0].seconds,
        "load_average_1m_before_replay": load_before,
    }


def run_oversight_bench(  # noqa: PLR0917 - the positional signature the CLI calls
    entries: int,
    persons: int,
    requests: int,
    workdir: Path,
    results: Path,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
    parts: tuple[str, ...] = ("aggregate", "replay"),
) -> dict[str, Any]:
    """The parts named (default both); the JSON goes to ``results/oversight-<entries>-<requests>.json``.

    With one part the file is ``oversight-aggregate-<entries>.json`` or
    ``oversight-replay-<persons>-<requests>.json``, so a part run alone does not overwrite
    the other's figures.
    """
    say = progress or (lambda _m: None)
    report: dict[str, Any] = {
        "benchmark": "oversight",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "store": "SQLite, WAL, synchronous=FULL",
    }
    unknown = set(parts) - {"aggregate", "replay"}
    if unknown or not parts:
        raise ValueError(f"unknown oversight bench parts {sorted(unknown)}: name aggregate and/or replay")
    if "aggregate" in parts:
        report["aggregate"] = bench_aggregate(entries, workdir, say, batch_size)
    if "replay" in parts:
        report["replay"] = bench_replay(persons, requests, workdir, say)
    report["machine"]["load_average_1m_after"] = os.getloadavg()[0]
    results.mkdir(parents=True, exist_ok=True)
    name = (
        f"oversight-{entries}-{requests}.json"
        if len(parts) == 2
        else f"oversight-aggregate-{entries}.json"
        if parts == ("aggregate",)
        else f"oversight-replay-{persons}-{requests}.json"
    )
    (results / name).write_text(json.dumps(report, indent=2) + "\n")
    return report
