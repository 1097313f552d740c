"""The online benchmark: single subjects through ``Gateway.verify_subject`` at a fixed rate.

Open-loop load, so a slow answer cannot slow the arrivals down and hide itself: request i
is due at ``i / rate`` seconds, ``clients`` threads take requests in order and wait for
their due time, and each latency runs from the due time to the answer (queueing
included). Every request goes through every stage: legal checks, linkage on the online
index, response shaping and, with accounting on, its durable log entry (each subject is
recorded and accounted as a one-row batch in its own transaction, as the service does).

What it does not include: HTTP. The load generator shares the process (and the GIL)
with the gateway; the service's own load test adds the web layer on top.

Phases: the engine alone (``OnlineMatcher.decide_one``, one client), then the gateway with
accounting on, then off, so the log's share of the latency is visible.
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from custodes.bench.pipeline import StageRun, run_stage
from custodes.config import load_settings
from custodes.contract import read_manifest, read_requests
from custodes.gateway import Gateway
from custodes.link.online import has_online_tables

P99_TARGET_MS = 25.0
RATE_TARGET = 200.0


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    n = len(ordered)

    def at(q: float) -> float:
        return round(ordered[min(n - 1, int(q * n))] * 1e3, 2)

    return {"p50_ms": at(0.50), "p90_ms": at(0.90), "p99_ms": at(0.99), "max_ms": round(ordered[-1] * 1e3, 2)}


def _load(gateway: Gateway, subjects: list[dict[str, str | None]], manifest_path: Path, *, rate: float,
          clients: int, tag: str) -> dict[str, object]:  # fmt: skip
    """Send ``subjects`` at ``rate`` per second from ``clients`` threads; latency from each due time."""
    manifest = read_manifest(manifest_path)
    run = f"ONLINE-BENCH-{tag}-{time.time_ns()}"
    latencies: list[float] = [0.0] * len(subjects)
    errors: list[str] = []
    lock = threading.Lock()
    cursor = iter(range(len(subjects)))
    start = time.perf_counter() + 0.5

    def client() -> None:
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                return
            due = start + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            try:
                # each verification is its own one-row batch, as the service records it
                gateway.verify_subject(
                    replace(manifest, batch_id=f"{run}-{i}"), {**subjects[i], "request_id": f"{tag}-{i}"}
                )
            except Exception as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
            latencies[i] = time.perf_counter() - due

    threads = [threading.Thread(target=client, name=f"bench-client-{n}") for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return {
        "requests": len(subjects),
        "offered_rate": rate,
        "achieved_rate": round(len(subjects) / elapsed, 1),
        "clients": clients,
        "errors": len(errors),
        "first_errors": errors[:3],
        **_percentiles(latencies),
    }


def run_online_bench(  # noqa: PLR0917 - the command's options
    persons: int, seed: int, workdir: Path, results: Path, rate: float = RATE_TARGET, clients: int = 50,
    seconds: float = 30.0,
) -> dict[str, object]:  # fmt: skip
    """Measure online verification at ``persons``; writes ``results/online-<persons>-s<seed>.json``."""
    requests = max(int(rate * seconds), 1)
    data = workdir / f"synth-{persons}-online-s{seed}"
    home = workdir / f"online-home-{persons}-s{seed}"
    log = workdir / "bench.log"
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CUSTODES_HOME": str(home)}
    stages: list[StageRun] = []
    if not (data / "truth.csv").exists():
        stages.append(run_stage("synth", ["synth", "--persons", str(persons), "--requests", str(requests),
                                          "--seed", str(seed), "--out", str(data)], env, log))  # fmt: skip
    index = home / "master.duckdb"
    if not (index.exists() and has_online_tables(index)):
        stages.append(run_stage("init", ["init"], env, log))
        stages.append(run_stage("master_load", ["master", "load", str(data / "master.parquet")], env, log))
    failed = [s for s in stages if s.returncode != 0]
    if failed:
        raise RuntimeError(f"stage {failed[0].stage} failed (exit {failed[0].returncode}); see {log}")

    subjects = [
        {k: None if v is None else str(v) for k, v in row.items() if k != "row_number"}
        for row in read_requests(data / "requests.csv").head(requests).to_dicts()
    ]
    settings = load_settings({"CUSTODES_HOME": str(home)})
    load_before = os.getloadavg()
    phases: dict[str, object] = {}
    gateway = Gateway(settings)
    try:
        started = time.perf_counter()
        matcher = gateway.online_matcher()
        if matcher is None:
            raise RuntimeError(f"the index at {index} has no online tables; run `custodes master load` again")
        open_seconds = round(time.perf_counter() - started, 2)
        engine: list[float] = []
        for subject in subjects[: min(500, len(subjects))]:
            began = time.perf_counter()
            matcher.decide_one(subject)
            engine.append(time.perf_counter() - began)
        phases["engine_decide_one"] = {"requests": len(engine), "clients": 1, **_percentiles(engine)}
    finally:
        gateway.close()
    runs: dict[bool, dict[str, object]] = {}
    for accounting in (True, False):
        gateway = Gateway(replace(settings, accounting=accounting))
        gateway.online_matcher()  # loaded before the clock starts
        try:
            tag = "accounted" if accounting else "unaccounted"
            runs[accounting] = _load(
                gateway, subjects, data / "requests.manifest.json", rate=rate, clients=clients, tag=tag
            )
            phases[f"gateway_{tag}"] = runs[accounting]
        finally:
            gateway.close()
    accounted = runs[True]
    report: dict[str, object] = {
        "benchmark": "online",
        "persons": persons,
        "seed": seed,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "stages": [
            {
                "stage": s.stage,
                "seconds": s.seconds,
                "peak_rss_mib": s.peak_rss_mib,
                "returncode": s.returncode,
            }
            for s in stages
        ],
        "matcher_open_seconds": open_seconds,
        "online_keys": matcher.keys,
        "phases": phases,
        "target": {"p99_ms": P99_TARGET_MS, "rate": RATE_TARGET, "clients": 50},
        "target_met": bool(
            accounted["errors"] == 0
            and float(str(accounted["p99_ms"])) <= P99_TARGET_MS
            and float(str(accounted["achieved_rate"])) >= RATE_TARGET * 0.98
        ),
    }
    results.mkdir(parents=True, exist_ok=True)
    target = results / f"online-{persons}-s{seed}.json"
    target.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return report
