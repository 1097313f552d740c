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


def run_stage(stage: str, args: list[str], env: dict[str, str], log: Path) -> StageRun:
    """Run ``custodes ARGS`` as a child process and measure it."""
    started = time.perf_counter()
    with log.open("ab") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "custodes", *args], env=env, stdout=sink, stderr=sink)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux
    return StageRun(stage, round(seconds, 2), round(usage.ru_maxrss / 1024, 1), code)


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
