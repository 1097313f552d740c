"""The end-to-end benchmark: synth -> init -> master load -> verify -> score.

Each stage runs as its own process, so its wall time and peak RSS are its own (peak RSS
from ``wait4``'s rusage, which the kernel keeps per child).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from custodes.score import score


@dataclass(frozen=True)
class StageRun:
    """One stage: its command, wall time and peak resident memory."""

    stage: str
    seconds: float
    peak_rss_mib: float
    returncode: int
    cpu_seconds: float = 0.0
    """User + system CPU of the child and of the processes it waited for (from ``wait4``):
    unlike wall time, it does not grow when other work shares the machine."""


def run_stage(
    stage: str, args: list[str], env: dict[str, str], log: Path, *, module: str = "custodes"
) -> StageRun:
    """Run ``python -m MODULE ARGS`` (by default ``custodes ARGS``) as a child process and measure it."""
    started = time.perf_counter()
    with log.open("ab") as sink:
        proc = subprocess.Popen([sys.executable, "-m", module, *args], env=env, stdout=sink, stderr=sink)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped by wait4: tell Popen, or it warns that the child still runs
    # ru_maxrss is in KiB on Linux
    cpu = usage.ru_utime + usage.ru_stime
    return StageRun(stage, round(seconds, 2), round(usage.ru_maxrss / 1024, 1), code, round(cpu, 2))


def run_pipeline_bench(
    persons: int, requests: int, seed: int, workdir: Path, results: Path
) -> dict[str, object]:
    """Run every stage at the given size and write ``results/pipeline-<persons>-<requests>-s<seed>.json``."""
    data = workdir / f"synth-{persons}-{requests}-s{seed}"
    home = workdir / f"home-{persons}-{requests}-s{seed}"
    out = workdir / f"out-{persons}-{requests}-s{seed}"
    log = workdir / "bench.log"
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CUSTODES_HOME": str(home)}
    stages: list[StageRun] = []
    if not (data / "truth.csv").exists():
        stages.append(run_stage("synth", ["synth", "--persons", str(persons), "--requests", str(requests),
                                          "--seed", str(seed), "--out", str(data)], env, log))  # fmt: skip
    if home.exists():
        for child in sorted(home.rglob("*"), reverse=True):
            child.unlink() if child.is_file() else child.rmdir()
    stages.append(run_stage("init", ["init"], env, log))
    stages.append(run_stage("master_load", ["master", "load", str(data / "master.parquet")], env, log))
    stages.append(
        run_stage(
            "verify",
            ["verify", str(data / "requests.csv"), "--manifest", str(data / "requests.manifest.json"),
             "--out", str(out)],
            env,
            log,
        )
    )  # fmt: skip
    failed = [s for s in stages if s.returncode != 0]
    if failed:
        raise RuntimeError(f"stage {failed[0].stage} failed (exit {failed[0].returncode}); see {log}")
    quality = score(data / "truth.csv", out / "decisions.parquet")
    report: dict[str, object] = {
        "benchmark": "pipeline",
        "persons": persons,
        "requests": requests,
        "seed": seed,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "stages": [asdict(s) for s in stages],
        "load_plus_verify_seconds": round(
            sum(s.seconds for s in stages if s.stage in {"master_load", "verify"}), 2
        ),
        "quality": quality,
    }
    results.mkdir(parents=True, exist_ok=True)
    target = results / f"pipeline-{persons}-{requests}-s{seed}.json"
    target.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return report


def run_accounting_overhead(
    persons: int, requests: int, seed: int, workdir: Path, results: Path, *, repeats: int = 3
) -> dict[str, object]:
    """``custodes verify`` with the accounting log on and off, alternating, ``repeats`` times each.

    Reuses the data and store of ``run_pipeline_bench`` at the same size (run that first);
    each run gets a fresh batch_id. Writes ``results/accounting-overhead-<persons>-<requests>.json``.
    """
    data = workdir / f"synth-{persons}-{requests}-s{seed}"
    home = workdir / f"home-{persons}-{requests}-s{seed}"
    if not (home / "master.duckdb").exists():
        raise RuntimeError(f"no store at {home}: run `custodes bench pipeline` at this size first")
    manifest = json.loads((data / "requests.manifest.json").read_text(encoding="utf-8"))
    log = workdir / "bench.log"
    runs: dict[str, list[StageRun]] = {"on": [], "off": []}
    for attempt in range(repeats):
        for mode in ("on", "off"):
            batch_manifest = workdir / f"overhead-{mode}-{attempt}.json"
            batch_id = f"{manifest['batch_id']}-overhead-{mode}-{attempt}-{time.time_ns()}"
            batch_manifest.write_text(json.dumps({**manifest, "batch_id": batch_id}), encoding="utf-8")
            env = {
                **os.environ,
                "CUSTODES_HOME": str(home),
                "CUSTODES_ACCOUNTING": "1" if mode == "on" else "0",
            }
            args = ["verify", str(data / "requests.csv"), "--manifest", str(batch_manifest),
                    "--out", str(workdir / f"overhead-out-{mode}")]  # fmt: skip
            runs[mode].append(run_stage(f"verify_accounting_{mode}", args, env, log))
    failed = [r for rs in runs.values() for r in rs if r.returncode != 0]
    if failed:
        raise RuntimeError(
            f"{len(failed)} verify run(s) failed (first: {failed[0].stage}, exit {failed[0].returncode}); "
            f"see {log}"
        )
    medians = {mode: sorted(r.seconds for r in rs)[len(rs) // 2] for mode, rs in runs.items()}
    report: dict[str, object] = {
        "benchmark": "accounting_overhead",
        "persons": persons,
        "requests": requests,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": {mode: [asdict(r) for r in rs] for mode, rs in runs.items()},
        "median_seconds": medians,
        "overhead_ratio": round(medians["on"] / medians["off"] - 1, 3),
    }
    results.mkdir(parents=True, exist_ok=True)
    target = results / f"accounting-overhead-{persons}-{requests}.json"
    target.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return report
